// Views: functions from state to DOM nodes. Everything a person wrote goes in as text nodes
// (textContent), never as markup; links are <a> elements made here, for http(s) URLs only.

import { fold } from './irc.js';
import { fileInfo, formatSize, ownFilePath, previewTypes } from './files.js';

/** An element with attributes (`data-*`, `class`, properties for the rest) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
        if (value === null || value === undefined || value === false) continue;
        if (name === 'class') node.className = value;
        else if (name.startsWith('data-') || name.startsWith('aria-') || name === 'role' || name === 'title' || name === 'datetime') node.setAttribute(name, String(value));
        else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
        else node[name] = value;
    }
    for (const child of children.flat()) {
        if (child === null || child === undefined || child === false) continue;
        node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
}

// MARK: conversations

export function buffersView(state, actions) {
    const items = state.order.map((key) => {
        const buffer = state.buffers.get(key);
        const current = key === state.current;
        const label = buffer.unread ? `${buffer.name}, ${buffer.unread} unread${buffer.mention ? ', you are mentioned' : ''}` : buffer.name;
        return el('li', {},
            el('button', {
                type: 'button',
                class: `buffer${current ? ' current' : ''}${buffer.mention ? ' mention' : ''}${buffer.unread ? ' unread' : ''}`,
                'data-test': 'buffer',
                'data-name': buffer.name,
                'data-unread': buffer.unread,
                'aria-current': current ? 'page' : null,
                'aria-label': label,
                onclick: () => actions.open(buffer.name),
            },
            el('span', { class: 'buffer-name' }, buffer.kind === 'private' ? presenceDot(state, buffer.name) : null, buffer.name),
            buffer.mention ? el('span', { class: 'mention-mark', title: 'You are mentioned' }, '@') : null,
            buffer.unread ? el('span', { class: 'badge' }, String(buffer.unread)) : null));
    });
    return el('div', {},
        el('h2', { class: 'panel-title' }, 'Conversations'),
        el('ul', { class: 'buffer-list' }, items),
        el('form', { class: 'open-form', onsubmit: (event) => {
            event.preventDefault();
            const input = event.target.elements.name;
            if (input.value.trim()) actions.open(input.value.trim());
            input.value = '';
        } }, el('input', { name: 'name', placeholder: 'Open #channel or nick', 'aria-label': 'Open a channel or a private conversation' })),
        el('button', { type: 'button', class: 'panel-logout', onclick: () => actions.logOut() }, `Log out ${state.me}`));
}

export function presenceOf(state, nick) {
    const user = state.users.get(fold(nick));
    if (!user || !user.online) return 'offline';
    return user.away ? 'away' : 'online';
}

function presenceDot(state, nick) {
    const presence = presenceOf(state, nick);
    return el('span', { class: `dot ${presence}`, title: presence, 'aria-hidden': 'true' });
}

// MARK: members

/** Members of the open channel (or of the lobby, beside a private conversation) and the contacts. */
export function membersView(state, actions) {
    const current = state.current && state.buffers.get(state.current);
    const channel = current && current.kind === 'channel' ? current : state.lobby && state.buffers.get(fold(state.lobby));
    const nicks = new Map();
    if (channel) for (const [key, nick] of channel.members) nicks.set(key, nick);
    for (const key of state.contacts) if (!nicks.has(key)) nicks.set(key, state.users.get(key)?.nick || key);
    const rank = { online: 0, away: 1, offline: 2 };
    const rows = [...nicks.values()]
        .map((nick) => ({ nick, presence: presenceOf(state, nick) }))
        .sort((a, b) => rank[a.presence] - rank[b.presence] || a.nick.localeCompare(b.nick));
    const me = fold(state.me);
    return el('div', {},
        el('h2', { class: 'panel-title' }, channel ? `${channel.name} · ${channel.members.size}` : 'People'),
        el('ul', { class: 'member-list' }, rows.map(({ nick, presence }) => el('li', {},
            el('button', {
                type: 'button',
                class: `member ${presence}`,
                'data-test': 'member',
                'data-nick': nick,
                'data-presence': presence,
                'aria-label': `${nick}, ${presence}${fold(nick) === me ? ' (you)' : ''}`,
                disabled: fold(nick) === me,
                onclick: () => actions.open(nick),
            }, el('span', { class: `dot ${presence}`, 'aria-hidden': 'true' }), nick, fold(nick) === me ? el('span', { class: 'you' }, ' (you)') : null)))));
}

// MARK: messages

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

function dayKey(time) {
    const date = new Date(time);
    return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** The open conversation: a line about older history, then days, each with its messages. */
export function messagesView(state, buffer, newAfter) {
    const nodes = [];
    if (buffer.historyLoading) nodes.push(el('p', { class: 'history-note' }, 'Loading older messages…'));
    else if (buffer.historyDone) nodes.push(el('p', { class: 'history-note' }, `The beginning of ${buffer.name}.`));
    let day = null;
    let previous = null;
    let newMarked = false;
    for (const message of buffer.messages) {
        const key = dayKey(message.time);
        if (key !== day) {
            day = key;
            previous = null;
            nodes.push(el('h3', { class: 'day', role: 'separator' }, dayFormat.format(new Date(message.time))));
        }
        const isNew = newAfter !== undefined && !message.mine && !message.system && (newAfter === null || message.time > newAfter);
        if (isNew && !newMarked) {
            newMarked = true;
            nodes.push(el('div', { class: 'new-divider', role: 'separator' }, 'New'));
        }
        if (message.system) {
            nodes.push(el('p', { class: 'system', 'data-test': 'notice' }, el('time', { datetime: new Date(message.time).toISOString() }, timeFormat.format(new Date(message.time))), ' ', message.text));
            previous = null;
            continue;
        }
        const continued = previous && !previous.action && !message.action && fold(previous.from) === fold(message.from) && message.time - previous.time < 5 * 60000;
        nodes.push(messageView(state, message, { continued, isNew }));
        previous = message;
    }
    if (buffer.messages.length === 0 && !buffer.historyLoading) nodes.push(el('p', { class: 'empty' }, buffer.kind === 'private' ? `This is the start of your conversation with ${buffer.name}.` : `Nothing said in ${buffer.name} yet.`));
    return nodes;
}

function messageView(state, message, { continued, isNew }) {
    const date = new Date(message.time);
    const classes = ['message'];
    if (continued) classes.push('continued');
    if (message.action) classes.push('action');
    if (message.notice) classes.push('notice');
    if (message.mention) classes.push('mention');
    if (message.mine) classes.push('mine');
    if (isNew) classes.push('new');
    const { nodes, files } = textWithLinks(message.text, state.fileHost);
    return el('div', { class: classes.join(' '), 'data-test': 'message', 'data-from': message.from },
        el('time', { datetime: date.toISOString(), title: fullFormat.format(date) }, timeFormat.format(date)),
        el('span', { class: 'from' }, message.from),
        el('span', { class: 'text' }, message.action ? `* ${message.from} ` : null, nodes),
        files.length ? el('div', { class: 'files' }, files.map((path) => fileCard(path, message.from))) : null);
}

const urlPattern = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** Text nodes and links for http(s) URLs; the paths of this server's files among them. */
export function textWithLinks(text, fileHost) {
    const nodes = [];
    const files = [];
    let last = 0;
    for (const match of text.matchAll(urlPattern)) {
        let link = match[0];
        // Sentence punctuation after a URL is not part of it (nor an unmatched closing parenthesis).
        while (/[.,;:!?]$/.test(link) || (link.endsWith(')') && !link.includes('('))) link = link.slice(0, -1);
        let url;
        try {
            url = new URL(link);
        } catch {
            continue;
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
        if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
        nodes.push(el('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer' }, link));
        last = match.index + link.length;
        const path = ownFilePath(link, fileHost);
        if (path && !files.includes(path)) files.push(path);
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return { nodes, files };
}

/** A card for one of this server's files, filled in when its HEAD answer comes. */
function fileCard(path, sender) {
    const card = el('div', { class: 'file-card', 'data-test': 'file' });
    const fill = (info) => {
        card.replaceChildren();
        if (info.missing) {
            card.classList.add('missing');
            card.append(el('span', { class: 'file-name' }, 'This file has expired or was removed.'));
            return;
        }
        card.dataset.name = info.name;
        card.dataset.size = String(info.size);
        if (previewTypes.has(info.type)) {
            card.append(el('img', { class: 'preview', src: path, alt: info.name, loading: 'lazy' }));
        }
        card.append(
            el('div', { class: 'file-meta' },
                el('span', { class: 'file-name' }, info.name),
                el('span', { class: 'file-detail' }, `${formatSize(info.size)} · from ${sender}`)),
            el('a', { class: 'download', href: path, download: info.name, rel: 'noopener' }, 'Download'));
    };
    card.append(el('span', { class: 'file-name' }, 'A file…'));
    fileInfo(path).then(fill);
    return card;
}

// MARK: the rest

export function bannerText(state) {
    if (state.phase !== 'ready' && !state.busy) return null;
    if (state.connection === 'offline') {
        const seconds = Math.max(1, Math.round(state.retryIn / 1000));
        return `Offline: the server cannot be reached. Trying again in ${seconds} s…`;
    }
    if (state.connection === 'connecting' && state.phase === 'ready') return 'Reconnecting…';
    return null;
}
