// Wires the page together: the store, the IRC client, the views, and the person's input.

import { ChatClient } from './client.js';
import { fold } from './irc.js';
import { initialState, createStore } from './store.js';
import { upload, uploadLimit } from './files.js';
import { MessageList } from './messagelist.js';
import { bannerText, buffersView, membersView } from './views.js';

const store = createStore(initialState());
const client = new ChatClient(store);
const $ = (id) => document.getElementById(id);

let searchTimer = null;
const actions = {
    open: (name) => client.open(name),
    logOut: () => client.logOut(),
    search: (text) => {
        clearTimeout(searchTimer);
        client.search(text);
    },
    // Typing searches once the person pauses, from two characters on.
    searchSoon: (text) => {
        clearTimeout(searchTimer);
        if (text.trim().length >= 2 || text.trim() === '') searchTimer = setTimeout(() => client.search(text), 400);
    },
};

// MARK: logging in

const form = $('login-form');
function credentials() {
    const nick = $('login-nick').value.trim();
    const password = $('login-password').value;
    if (!nick || !password) {
        store.update((s) => {
            s.loginError = !nick ? 'Type your nick.' : 'Type your password.';
        });
        return null;
    }
    return { nick, password };
}
form.addEventListener('submit', (event) => {
    event.preventDefault();
    const given = credentials();
    if (given) client.logIn(given.nick, given.password, 'login');
});
$('register-submit').addEventListener('click', () => {
    const given = credentials();
    if (given) client.logIn(given.nick, given.password, 'register');
});
$('logout').addEventListener('click', () => client.logOut());
$('banner-retry').addEventListener('click', () => client.connection.retryNow());
window.addEventListener('online', () => client.connection.retryNow());

// MARK: drawing

const messages = $('messages');
const list = new MessageList(messages);
let drawn = { key: null, version: -1 };
// The member list is redrawn when people change, at most every 150 ms when it is long (a
// thousand joins after a restart draw it a few times, not a thousand).
let membersDrawn = { version: -1, channel: null, at: 0 };
let membersTimer = null;
// The read marker of the open conversation as it was when it was opened: what came after is "new".
let newAfter;

function render(state) {
    $('login').hidden = state.phase === 'ready';
    $('app').hidden = state.phase !== 'ready';
    const error = $('login-error');
    error.textContent = state.loginError;
    error.hidden = !state.loginError;
    $('login-submit').disabled = state.busy;
    $('register-submit').disabled = state.busy;

    const banner = bannerText(state);
    $('banner').hidden = !banner;
    $('banner-text').textContent = banner || '';
    if (state.phase !== 'ready') {
        drawn = { key: null, version: -1 };
        membersDrawn = { version: -1, channel: null, at: 0 };
        return;
    }

    const app = $('app');
    // A list that folds away (Escape, a conversation chosen) with the focus in it gives the focus
    // back to the button that opened it, rather than to nowhere.
    const folding = app.dataset.panel !== state.panel && app.dataset.panel;
    if (folding && $(folding).contains(document.activeElement) && $(`toggle-${folding}`).getClientRects().length) {
        $(`toggle-${folding}`).focus();
    }
    if (state.panel) app.dataset.panel = state.panel;
    else delete app.dataset.panel;
    $('toggle-buffers').setAttribute('aria-expanded', String(state.panel === 'buffers'));
    $('toggle-members').setAttribute('aria-expanded', String(state.panel === 'members'));
    $('enable-notifications').hidden = state.notifications !== 'default';

    const buffer = state.current && state.buffers.get(state.current);
    $('title').textContent = buffer ? buffer.name : '';
    document.title = unreadTitle(state);
    redraw($('buffers'), buffersView(state, actions));
    drawMembers(state);
    renderUpload(state.upload);

    if (!buffer) {
        messages.replaceChildren();
        drawn = { key: null, version: -1 };
        return;
    }
    if (drawn.key === state.current && drawn.version === buffer.version) return;
    const switched = drawn.key !== state.current;
    // What was on screen, scrolled to its end, has been read, even if the switch came quickly.
    if (switched && drawn.key && drawn.atBottom) client.markRead(drawn.key);
    // The server tells the marker a moment after the join: until it has, nothing is called new.
    // A channel never read before has no "new": its history was said before one came.
    const marker = () => (buffer.marker === null && buffer.kind === 'channel' ? undefined : buffer.marker);
    if (switched) newAfter = buffer.markerKnown ? marker() : undefined;
    else if (newAfter === undefined && buffer.markerKnown && !drawn.markerSeen) newAfter = marker();
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    const fromBottom = messages.scrollHeight - messages.scrollTop;
    // History that arrived at the top keeps what the person was reading in place.
    const top = messages.firstChild;
    list.draw(state, buffer, newAfter, switched || atBottom);
    const grewAtTop = !switched && messages.firstChild !== top;
    if (switched || atBottom) messages.scrollTop = messages.scrollHeight;
    else if (grewAtTop) messages.scrollTop = messages.scrollHeight - fromBottom;
    drawn = {
        key: state.current, version: buffer.version,
        markerSeen: drawn.key === state.current ? drawn.markerSeen || !!buffer.markerKnown : !!buffer.markerKnown,
        atBottom: messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40,
    };
    // Focus still in the login form, hidden a moment ago, is nowhere too.
    const unfocused = document.activeElement === document.body || $('login').contains(document.activeElement);
    if (switched && !matchMedia('(max-width: 700px)').matches && unfocused) $('composer').focus();
    markReadSoon();
}

/** Replaces a list, keeping the keyboard's place: the focused row gets the focus back. */
function redraw(container, content) {
    const focused = container.contains(document.activeElement) ? document.activeElement : null;
    const key = focused && (focused.dataset.name || focused.dataset.nick);
    const typed = focused && focused.tagName === 'INPUT'
        ? { name: focused.name, value: focused.value, start: focused.selectionStart, end: focused.selectionEnd } : null;
    container.replaceChildren(content);
    if (typed) {
        const input = container.querySelector(`input[name="${typed.name}"]`);
        if (input) {
            input.value = typed.value;
            input.focus();
            input.setSelectionRange(typed.start, typed.end);
        }
    } else if (key) {
        const again = [...container.querySelectorAll('button')].find((b) => (b.dataset.name || b.dataset.nick) === key);
        again?.focus();
    }
}

function drawMembers(state) {
    const buffer = state.current && state.buffers.get(state.current);
    const channel = buffer && buffer.kind === 'channel' ? buffer.name : state.lobby;
    if (membersDrawn.version === state.people && membersDrawn.channel === channel) return;
    const shown = state.buffers.get(fold(channel || ''));
    const long = !!shown && (shown.large || shown.members.size > 300);
    const wait = long && membersDrawn.channel === channel ? membersDrawn.at + 150 - performance.now() : 0;
    if (wait > 0) {
        membersTimer ??= setTimeout(() => {
            membersTimer = null;
            drawMembers(store.state);
        }, wait);
        return;
    }
    membersDrawn = { version: state.people, channel, at: performance.now() };
    redraw($('members'), membersView(state, actions));
}

function unreadTitle(state) {
    let unread = 0;
    for (const buffer of state.buffers.values()) unread += buffer.unread;
    return unread ? `(${unread}) tincan chat` : 'tincan chat';
}

// Drawn once per frame, however many lines came in it: each IRC line is a WebSocket message of
// its own, so drawing per change would lay the page out for every line of a burst (the benchmark
// counted 2,000 layouts for 1,000 messages). A hidden tab gets no frames: it draws a few times a
// second instead, so that its title keeps the unread count.
let drawScheduled = false;
function scheduleRender() {
    if (drawScheduled) return;
    drawScheduled = true;
    const draw = () => {
        if (!drawScheduled) return;
        drawScheduled = false;
        render(store.state);
    };
    requestAnimationFrame(draw);
    setTimeout(draw, 250);
}
store.subscribe(scheduleRender);
render(store.state);

// MARK: read markers

let markTimer = null;
function markReadSoon() {
    clearTimeout(markTimer);
    markTimer = setTimeout(() => {
        const state = store.state;
        if (state.phase !== 'ready' || document.visibilityState !== 'visible' || !state.current) return;
        const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
        if (atBottom) client.markRead(state.current);
    }, 300);
}
document.addEventListener('visibilitychange', markReadSoon);
window.addEventListener('focus', markReadSoon);

// MARK: older history

messages.addEventListener('scroll', () => {
    const state = store.state;
    drawn.atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    if (messages.scrollTop < 60 && state.current) {
        const buffer = state.buffers.get(state.current);
        // Older messages already loaded come first; then the server's.
        if (buffer && list.grow()) {
            const fromBottom = messages.scrollHeight - messages.scrollTop;
            list.draw(state, buffer, newAfter, false);
            messages.scrollTop = messages.scrollHeight - fromBottom;
        } else if (buffer) client.requestHistory(buffer.name, 'BEFORE');
    }
    markReadSoon();
});

// MARK: the composer

const composer = $('composer');
const history = [];
let historyIndex = 0;
$('composer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = composer.value;
    if (!text.trim()) return;
    if (client.submit(text) === false) return;
    history.push(text);
    historyIndex = history.length;
    composer.value = '';
});
composer.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowUp' && !event.altKey && historyIndex > 0 && (composer.value === '' || composer.value === history[historyIndex])) {
        historyIndex--;
        composer.value = history[historyIndex];
        event.preventDefault();
    } else if (event.key === 'ArrowDown' && !event.altKey && historyIndex < history.length) {
        historyIndex++;
        composer.value = history[historyIndex] || '';
        event.preventDefault();
    }
});

// Alt+Up and Alt+Down move between conversations; Escape folds the lists away on a phone.
document.addEventListener('keydown', (event) => {
    const state = store.state;
    if (state.phase !== 'ready') return;
    if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
        const index = state.order.indexOf(state.current);
        const next = state.order[(index + (event.key === 'ArrowUp' ? -1 : 1) + state.order.length) % state.order.length];
        if (next) client.open(state.buffers.get(next).name);
        event.preventDefault();
    } else if (event.key === 'Escape' && state.panel) {
        store.update((s) => {
            s.panel = null;
        });
    }
});
for (const [button, panel] of [['toggle-buffers', 'buffers'], ['toggle-members', 'members']]) {
    $(button).addEventListener('click', () => store.update((s) => {
        s.panel = s.panel === panel ? null : panel;
    }));
}

// MARK: notifications

$('enable-notifications').addEventListener('click', async () => {
    const answer = await Notification.requestPermission();
    store.update((s) => {
        s.notifications = answer;
    });
});
client.on.notify = ({ from, text, buffer }) => {
    if (store.state.notifications !== 'granted' || (document.visibilityState === 'visible' && document.hasFocus())) return;
    const notification = new Notification(buffer === from ? from : `${from} in ${buffer}`, { body: text, tag: fold(buffer) });
    notification.addEventListener('click', () => {
        window.focus();
        client.open(buffer);
    });
};

// MARK: files

let cancelUpload = null;
client.on.fileHost = () => {
    uploadLimit().then((limit) => store.update((s) => {
        s.uploadLimit = limit;
    })).catch(() => {});
};

async function send(file) {
    const state = store.state;
    if (state.phase !== 'ready' || !state.current) return;
    if (!state.fileHost) {
        store.update((s) => {
            s.upload = { name: file.name, error: 'This server takes no files.' };
        });
        return;
    }
    if (cancelUpload) cancelUpload();
    const target = state.buffers.get(state.current).name;
    let limit = state.uploadLimit;
    if (limit === null) limit = await uploadLimit().catch(() => null);
    store.update((s) => {
        s.upload = { name: file.name, loaded: 0, total: file.size, error: null };
    });
    cancelUpload = upload(file, { account: client.account || client.credentials.account, password: client.credentials.password, limit }, {
        progress: (loaded, total) => store.update((s) => {
            if (s.upload) Object.assign(s.upload, { loaded, total });
        }),
        done: (url) => {
            cancelUpload = null;
            client.send('PRIVMSG', [target, url], true);
            store.update((s) => {
                s.upload = null;
            });
        },
        failed: (sentence) => {
            cancelUpload = null;
            store.update((s) => {
                s.upload = { name: file.name, error: sentence };
            });
        },
    });
}

function renderUpload(upload) {
    const box = $('upload');
    box.hidden = !upload;
    if (!upload) return;
    const failed = !!upload.error;
    box.classList.toggle('failed', failed);
    const progress = $('upload-progress');
    progress.hidden = failed;
    progress.max = Math.max(upload.total || 1, 1);
    progress.value = upload.loaded || 0;
    $('upload-text').textContent = failed ? upload.error : `Sending ${upload.name}… ${Math.floor((100 * (upload.loaded || 0)) / Math.max(upload.total || 1, 1))}%`;
    $('upload-cancel').hidden = failed;
    $('upload-dismiss').hidden = !failed;
}

// Cancelling is the person's own doing: the box goes rather than saying so.
$('upload-cancel').addEventListener('click', () => {
    if (cancelUpload) cancelUpload();
    store.update((s) => {
        s.upload = null;
    });
});
$('upload-dismiss').addEventListener('click', () => store.update((s) => {
    s.upload = null;
}));
$('file-input').addEventListener('change', (event) => {
    const [file] = event.target.files;
    if (file) send(file);
    event.target.value = '';
});

const conversation = $('conversation');
let dragDepth = 0;
conversation.addEventListener('dragenter', (event) => {
    if (![...event.dataTransfer.types].includes('Files')) return;
    dragDepth++;
    $('drop-hint').hidden = false;
    event.preventDefault();
});
conversation.addEventListener('dragover', (event) => {
    if ([...event.dataTransfer.types].includes('Files')) event.preventDefault();
});
conversation.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) $('drop-hint').hidden = true;
});
conversation.addEventListener('drop', (event) => {
    dragDepth = 0;
    $('drop-hint').hidden = true;
    const [file] = event.dataTransfer.files;
    if (file) {
        event.preventDefault();
        send(file);
    }
});
document.addEventListener('paste', (event) => {
    if (store.state.phase !== 'ready') return;
    const file = [...(event.clipboardData?.files || [])][0];
    if (!file) return;
    event.preventDefault();
    const named = file.name && file.name !== 'image.png' ? file : new File([file], `pasted-${new Date().toISOString().replace(/[:.]/g, '-')}.${(file.type.split('/')[1] || 'png')}`, { type: file.type });
    send(named);
});

// Large rooms' member counts go stale, and a room at the mark may grow past it untold: LIST asks
// again every 10 s (one short line for each such room).
setInterval(() => client.recount(), 10000);

// For the browser tests, the benchmark and the curious: the store, read-only in spirit.
window.tincan = { store, client, list };
