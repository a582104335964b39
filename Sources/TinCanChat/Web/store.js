// One small store: the state is a plain object that changes only through update(), and the
// listeners run once per task however many updates it made (main.js then draws at most once a
// frame).

export function createStore(initial) {
    const state = initial;
    const listeners = new Set();
    let scheduled = false;

    function notify() {
        scheduled = false;
        for (const listener of listeners) listener(state);
    }

    return {
        get state() {
            return state;
        },
        update(change) {
            change(state);
            if (!scheduled) {
                scheduled = true;
                queueMicrotask(notify);
            }
        },
        subscribe(listener) {
            listeners.add(listener);
            return () => listeners.delete(listener);
        },
    };
}

/** A conversation: a channel, or the private one with a nick. */
export function newBuffer(name, kind) {
    return {
        name,
        kind,
        messages: [],
        ids: new Set(),
        members: new Map(),
        // Past the server's quiet-presence mark: members lists only operators; count is LIST's.
        large: false,
        count: 0,
        speakers: new Map(),
        marker: null,
        unread: 0,
        mention: false,
        historyLoading: false,
        historyDone: false,
        version: 0,
    };
}

export function initialState() {
    return {
        phase: 'login',
        connection: 'offline',
        retryIn: 0,
        loginError: '',
        busy: false,
        me: '',
        lobby: '',
        isupport: {},
        fileHost: null,
        uploadLimit: null,
        buffers: new Map(),
        order: [],
        current: null,
        users: new Map(),
        contacts: new Set(),
        // Bumped by every change to who is where and how: the member list redraws on it.
        people: 0,
        search: null,
        upload: null,
        notifications: typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
        panel: null,
    };
}
