// The open conversation's messages, drawn incrementally. Each message's element is made once and
// kept (a file card asks the server about its file once, not at every redraw); only a window of
// the newest messages is in the document; and a redraw moves nodes only where the list changed.
// A conversation of 10,000 messages costs a new message the same as one of 10.

import { el, messageView } from './views.js';
import { fold } from './irc.js';

/** Messages added to the document at a time, and the most kept there while following the end. */
export const windowPage = 200;

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

function dayKey(time) {
    const date = new Date(time);
    return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export class MessageList {
    constructor(container) {
        this.container = container;
        this.nodes = new WeakMap();
        this.key = null;
        // The oldest message in the window, or null when the window starts at the first one (then
        // older history, when it comes, is shown too).
        this.first = null;
        this.days = new Map();
        this.notes = new Map();
        this.divider = el('div', { class: 'new-divider', role: 'separator' }, 'New');
    }

    /** Redraws `buffer`; `following` says the person is at the end, so the window may drop its oldest. */
    draw(state, buffer, newAfter, following) {
        if (this.key !== buffer) {
            this.key = buffer;
            this.first = null;
            this.days.clear();
            this.notes.clear();
            this.start = Math.max(0, buffer.messages.length - windowPage);
        } else {
            this.start = this.indexOfFirst(buffer.messages);
        }
        const messages = buffer.messages;
        if (following && messages.length - this.start > 2 * windowPage) this.start = messages.length - windowPage;
        this.first = this.start === 0 ? null : messages[this.start];
        reconcile(this.container, this.wanted(state, buffer, newAfter));
    }

    /** Shows older messages already loaded; false when the window already starts at the first. */
    grow() {
        if (!this.key || this.start === 0) return false;
        this.start = Math.max(0, this.start - windowPage);
        this.first = this.start === 0 ? null : this.key.messages[this.start];
        return true;
    }

    /** How many messages are in the document (for tests and the benchmark). */
    get shown() {
        return this.key ? this.key.messages.length - this.start : 0;
    }

    indexOfFirst(messages) {
        if (this.first === null) return 0;
        // The window's first message is near where it was: history goes in before it, live lines after.
        const index = messages.lastIndexOf(this.first);
        return index < 0 ? Math.max(0, messages.length - windowPage) : index;
    }

    wanted(state, buffer, newAfter) {
        const nodes = [];
        const messages = buffer.messages;
        if (this.start === 0) {
            if (buffer.historyLoading) nodes.push(this.note('loading', 'history-note', 'Loading older messages…'));
            else if (buffer.historyDone) nodes.push(this.note('done', 'history-note', `The beginning of ${buffer.name}.`));
        }
        let day = null;
        let previous = null;
        let newMarked = false;
        for (let index = this.start; index < messages.length; index++) {
            const message = messages[index];
            const key = dayKey(message.time);
            if (key !== day) {
                day = key;
                previous = null;
                let header = this.days.get(key);
                if (!header) {
                    header = el('h3', { class: 'day', role: 'separator' }, dayFormat.format(new Date(message.time)));
                    this.days.set(key, header);
                }
                nodes.push(header);
            }
            const isNew = newAfter !== undefined && !message.mine && !message.system && (newAfter === null || message.time > newAfter);
            if (isNew && !newMarked) {
                newMarked = true;
                nodes.push(this.divider);
            }
            const continued = !message.system && previous !== null && !previous.action && !message.action
                && fold(previous.from) === fold(message.from) && message.time - previous.time < 5 * 60000;
            nodes.push(this.node(state, message, continued, isNew));
            previous = message.system ? null : message;
        }
        if (messages.length === 0 && !buffer.historyLoading) {
            nodes.push(this.note('empty', 'empty', buffer.kind === 'private' ? `This is the start of your conversation with ${buffer.name}.` : `Nothing said in ${buffer.name} yet.`));
        }
        return nodes;
    }

    node(state, message, continued, isNew) {
        let node = this.nodes.get(message);
        if (!node) {
            node = messageView(state, message);
            this.nodes.set(message, node);
        }
        // What depends on the neighbours and the marker changes in place.
        node.classList.toggle('continued', continued);
        node.classList.toggle('new', isNew);
        return node;
    }

    note(key, className, text) {
        let node = this.notes.get(key);
        if (!node || node.textContent !== text) {
            node = el('p', { class: className }, text);
            this.notes.set(key, node);
        }
        return node;
    }
}

/** Makes `parent`'s children exactly `wanted`, moving and removing only what differs. */
export function reconcile(parent, wanted) {
    let child = parent.firstChild;
    for (const node of wanted) {
        if (node === child) {
            child = child.nextSibling;
            continue;
        }
        parent.insertBefore(node, child);
    }
    while (child) {
        const next = child.nextSibling;
        child.remove();
        child = next;
    }
}
