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

const presenceRank = { online: 0, away: 1, offline: 2 };
const byNick = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true }).compare;

/** People as rows, here before away before offline, then by nick. */
function memberRows(state, nicks, actions) {
    const me = fold(state.me);
    return [...nicks]
        .map((nick) => ({ nick, presence: presenceOf(state, nick) }))
        .sort((a, b) => presenceRank[a.presence] - presenceRank[b.presence] || byNick(a.nick, b.nick))
        .map(({ nick, presence }) => memberRow(nick, presence, fold(nick) === me, actions));
}

function memberRow(nick, presence, self, actions, detail = null) {
    return el('li', {},
        el('button', {
            type: 'button',
            class: `member ${presence}`,
            'data-test': 'member',
            'data-nick': nick,
            'data-presence': presence,
            'aria-label': `${nick}, ${presence}${self ? ' (you)' : ''}${detail ? `, ${detail}` : ''}`,
            disabled: self,
            onclick: () => actions.open(nick),
        }, el('span', { class: `dot ${presence}`, 'aria-hidden': 'true' }), nick, self ? el('span', { class: 'you' }, ' (you)') : null,
        detail ? el('span', { class: 'member-detail' }, detail) : null));
}

/** Members of the open channel (or of the lobby, beside a private conversation) and the contacts. */
export function membersView(state, actions) {
    const current = state.current && state.buffers.get(state.current);
    const channel = current && current.kind === 'channel' ? current : state.lobby && state.buffers.get(fold(state.lobby));
    if (channel && channel.large) return largeRoomView(state, channel, actions);
    const nicks = new Map();
    if (channel) for (const [key, nick] of channel.members) nicks.set(key, nick);
    for (const key of state.contacts) if (!nicks.has(key)) nicks.set(key, state.users.get(key)?.nick || key);
    return el('div', {},
        el('h2', { class: 'panel-title' }, channel ? `${channel.name} · ${channel.members.size}` : 'People'),
        el('ul', { class: 'member-list' }, memberRows(state, nicks.values(), actions)));
}

const recentSpeakers = 30;
const agoFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function ago(time) {
    const minutes = Math.round((time - Date.now()) / 60000);
    if (minutes > -60) return agoFormat.format(minutes, 'minute');
    const hours = Math.round(minutes / 60);
    return hours > -48 ? agoFormat.format(hours, 'hour') : agoFormat.format(Math.round(hours / 24), 'day');
}

/**
 * A room past the server's quiet-presence mark: nobody is told who comes and goes, so the list
 * cannot be everyone. It shows a search (WHO with a mask), the contacts (MONITOR keeps them
 * exact) and the people who spoke lately.
 */
function largeRoomView(state, channel, actions) {
    const me = fold(state.me);
    const section = (name, title, rows, after = null) => el('section', { class: 'member-section', 'data-test': 'member-section', 'data-name': name },
        el('h3', { class: 'section-title' }, title),
        rows.length ? el('ul', { class: 'member-list' }, rows) : null,
        after);
    const search = state.search;
    let found = null;
    if (search) {
        const note = search.pending ? 'Searching…'
            : search.results.length === 0 ? `Nobody here matches “${search.text}”.`
                : search.cut ? `Only the first ${search.results.length}: type more of the name.` : null;
        found = section('found', `Matching “${search.text}”`, memberRows(state, search.results, actions), note ? el('p', { class: 'section-note' }, note) : null);
    }
    const contacts = [...state.contacts].map((key) => state.users.get(key)?.nick || key);
    const speakers = [...channel.speakers.values()]
        .filter((speaker) => fold(speaker.nick) !== me)
        .sort((a, b) => b.time - a.time)
        .slice(0, recentSpeakers)
        .map((speaker) => memberRow(speaker.nick, presenceOf(state, speaker.nick), false, actions, ago(speaker.time)));
    return el('div', {},
        el('h2', { class: 'panel-title' }, `${channel.name} · ${channel.count.toLocaleString()}`),
        el('p', { class: 'room-large', 'data-test': 'room-large' },
            `${channel.name} is large: ${channel.count.toLocaleString()} people. Who comes and goes is not shown here; search for someone, or pick a contact or someone who spoke.`),
        el('form', { class: 'member-search', role: 'search', onsubmit: (event) => {
            event.preventDefault();
            actions.search(event.target.elements.who.value);
        } }, el('input', { name: 'who', type: 'search', 'data-test': 'member-search', placeholder: 'Search people', 'aria-label': 'Search people by nick', value: search ? search.text : '', oninput: (event) => actions.searchSoon(event.target.value) })),
        found,
        section('contacts', 'Contacts', memberRows(state, contacts, actions), contacts.length ? null : el('p', { class: 'section-note' }, 'Nobody yet: a private conversation makes a contact.')),
        section('recent', 'Spoke recently', speakers, speakers.length ? null : el('p', { class: 'section-note' }, 'Nobody has spoken yet.')));
}

// MARK: messages

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** One message (or a line from the page itself); messagelist.js marks it continued or new. */
export function messageView(state, message) {
    const date = new Date(message.time);
    const time = el('time', { datetime: date.toISOString(), title: fullFormat.format(date) }, timeFormat.format(date));
    if (message.system) return el('p', { class: 'system', 'data-test': 'notice' }, time, ' ', message.text);
    const classes = ['message'];
    if (message.action) classes.push('action');
    if (message.notice) classes.push('notice');
    if (message.mention) classes.push('mention');
    if (message.mine) classes.push('mine');
    const { nodes, files } = textWithLinks(message.text, state.fileHost);
    return el('div', { class: classes.join(' '), 'data-test': 'message', 'data-from': message.from },
        time,
        el('span', { class: 'from' }, message.from),
        el('span', { class: 'text' }, message.action ? `* ${message.from} ` : null, nodes),
        files.length ? el('div', { class: 'files' }, files.map((file) => fileCard(file, message.from))) : null);
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
        const file = ownFilePath(link, fileHost);
        if (file && !files.some((known) => known.path === file.path)) files.push(file);
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return { nodes, files };
}

/** A card for one of this server's files, filled in when its HEAD answer comes. */
function fileCard({ path, sure }, sender) {
    const card = el('div', { class: 'file-card', 'data-test': 'file' });
    const fill = (info) => {
        card.replaceChildren();
        // A link elsewhere that this server does not know is only a link.
        if (info.missing && !sure) return card.remove();
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
