// The IRC session: what the page says to the server, and how each line it hears changes the
// state. Views never see IRC; this module never sees the DOM.

import { Connection } from './connection.js';
import { actionText, fold, format, isChannel, isOtherCTCP, isUserSource, nickOf, parse, parseTime, saslPlain, timestamp } from './irc.js';
import { newBuffer } from './store.js';

const wantedCaps = [
    'sasl', 'server-time', 'message-tags', 'batch', 'echo-message', 'away-notify', 'account-notify',
    'extended-join', 'multi-prefix', 'draft/chathistory', 'draft/read-marker', 'draft/account-registration', 'cap-notify',
];
const historyPage = 50;

/** The sentence a person reads for a refused login or sign-up. */
export function refusalSentence(kind, code, text) {
    const sentences = {
        904: 'Wrong nick or password.',
        902: 'That account cannot log in now.',
        905: 'The nick or password is too long.',
        906: 'Logging in was cancelled.',
        908: 'This server does not take passwords this way.',
        433: 'That nick is in use right now. Pick another, or wait until it is free.',
        432: 'That nick cannot be used: start with a letter, no spaces.',
        431: 'Type a nick first.',
        464: 'This server needs a server password.',
        465: 'You are banned from this server.',
        ACCOUNT_EXISTS: 'That name is taken: someone already signed up with it. Log in instead, or pick another.',
        TEMPORARILY_UNAVAILABLE: 'Sign-up is closed on this server: ask its operator for an account.',
        WEAK_PASSWORD: 'That password is too weak.',
        UNACCEPTABLE_PASSWORD: 'That password cannot be used.',
        BAD_ACCOUNT_NAME: 'That name cannot be an account name.',
        ACCOUNT_NAME_MUST_BE_NICK: 'The account is named after your nick.',
        ALREADY_AUTHENTICATED: 'You are already logged in.',
        NEED_NICK: 'Type a nick first.',
        nosasl: 'This server keeps no accounts, so it cannot log you in.',
        noregister: 'This server does not let people sign up.',
        closed: 'The server closed the connection.',
    };
    const sentence = sentences[code];
    if (sentence && text && (code === 'WEAK_PASSWORD' || code === 'UNACCEPTABLE_PASSWORD')) {
        return `${sentence.replace(/\.$/, '')}: ${text.replace(/\.$/, '')}.`;
    }
    return sentence || (text ? `${kind === 'register' ? 'Sign-up' : 'Login'} refused: ${text}` : 'The server refused.');
}

export class ChatClient {
    constructor(store) {
        this.store = store;
        this.credentials = null;
        this.mode = 'login';
        this.registered = false;
        this.offeredCaps = new Map();
        this.enabledCaps = new Set();
        this.batches = new Map();
        this.names = new Map();
        this.recent = [];
        this.welcomes = 0;
        this.connection = new Connection({
            onOpen: () => this.start(),
            onLine: (line) => this.receive(line),
            onState: (state, retryIn) => this.store.update((s) => {
                s.connection = state;
                s.retryIn = retryIn || 0;
            }),
        });
        this.on = {};
    }

    // MARK: logging in

    /** Logs in (`mode` 'login', SASL PLAIN) or signs up ('register', REGISTER) as nick. */
    logIn(nick, password, mode) {
        this.credentials = { nick, password, account: nick };
        this.mode = mode;
        this.store.update((s) => {
            s.loginError = '';
            s.busy = true;
        });
        this.connection.close();
        this.connection.open();
    }

    logOut() {
        this.send('QUIT', ['Logged out'], true);
        this.connection.close();
        this.credentials = null;
        this.store.update((s) => {
            s.phase = 'login';
            s.busy = false;
            s.buffers.clear();
            s.order = [];
            s.current = null;
            // The next login may be someone else's.
            s.lobby = '';
            s.users.clear();
            s.contacts.clear();
            s.search = null;
            s.people++;
        });
    }

    refuse(code, text) {
        const sentence = refusalSentence(this.mode, code, text);
        this.connection.close();
        this.store.update((s) => {
            s.loginError = sentence;
            s.busy = false;
            s.phase = 'login';
        });
    }

    start() {
        this.registered = false;
        this.nickTries = 0;
        this.offeredCaps.clear();
        this.enabledCaps.clear();
        this.batches.clear();
        this.send('CAP', ['LS', '302']);
        this.send('NICK', [this.credentials.account]);
        this.send('USER', [this.credentials.account, '0', '*', this.credentials.account], true);
    }

    send(command, params = [], trailing = false) {
        return this.connection.send(format(command, params, { trailing }));
    }

    // MARK: lines from the server

    receive(line) {
        // The last lines heard, for a person (or a test) looking at what went wrong.
        this.recent.push(line);
        if (this.recent.length > 300) this.recent.shift();
        const message = parse(line);
        if (!message) return;
        const handler = this.handlers[message.command];
        if (handler) handler.call(this, message);
        else if (/^[45]\d\d$/.test(message.command)) this.errorNumeric(message);
    }

    get handlers() {
        return ChatClient.table;
    }

    static table = {
        PING(m) {
            this.send('PONG', m.params, true);
        },
        CAP(m) {
            const sub = (m.params[1] || '').toUpperCase();
            if (sub === 'LS') {
                const more = m.params[2] === '*';
                for (const item of m.params[more ? 3 : 2].split(' ')) {
                    if (!item) continue;
                    const equals = item.indexOf('=');
                    this.offeredCaps.set(equals < 0 ? item : item.slice(0, equals), equals < 0 ? '' : item.slice(equals + 1));
                }
                if (more || this.registered) return;
                if (this.mode === 'login' && !this.offeredCaps.has('sasl')) return this.refuse('nosasl');
                if (this.mode === 'register' && !this.offeredCaps.has('draft/account-registration')) return this.refuse('noregister');
                const wanted = wantedCaps.filter((cap) => this.offeredCaps.has(cap));
                this.send('CAP', ['REQ', wanted.join(' ')], true);
            } else if (sub === 'ACK') {
                for (const cap of m.params[2].split(' ')) {
                    if (cap.startsWith('-')) this.enabledCaps.delete(cap.slice(1));
                    else if (cap) this.enabledCaps.add(cap);
                }
                if (this.registered) return;
                if (this.mode === 'login') this.send('AUTHENTICATE', ['PLAIN']);
                else this.send('REGISTER', ['*', '*', this.credentials.password], true);
            } else if (sub === 'NAK' && !this.registered) {
                this.refuse(this.mode === 'login' ? 'nosasl' : 'noregister');
            }
        },
        AUTHENTICATE(m) {
            if (m.params[0] === '+') {
                for (const chunk of saslPlain(this.credentials.account, this.credentials.password)) this.send('AUTHENTICATE', [chunk]);
            }
        },
        900(m) {
            this.account = m.params[2] || this.credentials.account;
        },
        903() {
            this.send('CAP', ['END']);
        },
        904(m) {
            this.refuse(904, m.params.at(-1));
        },
        902(m) {
            this.refuse(902, m.params.at(-1));
        },
        905(m) {
            this.refuse(905, m.params.at(-1));
        },
        906(m) {
            this.refuse(906, m.params.at(-1));
        },
        REGISTER(m) {
            if (m.params[0] === 'SUCCESS') {
                this.account = m.params[1];
                // Logged in by the sign-up; a reconnect logs in with SASL.
                this.mode = 'login';
                this.send('CAP', ['END']);
            }
        },
        FAIL(m) {
            const [command, code] = m.params;
            if (!this.registered && (command === 'REGISTER' || command === 'AUTHENTICATE')) return this.refuse(code, m.params.at(-1));
            this.systemLine(m.params.at(-1));
        },
        ERROR(m) {
            if (!this.registered && this.store.state.phase === 'login') this.refuse('closed', m.params.at(-1));
        },
        '001'(m) {
            this.registered = true;
            this.welcomes++;
            const me = m.params[0];
            this.credentials.nick = me;
            this.store.update((s) => {
                s.me = me;
                s.phase = 'ready';
                s.busy = false;
                s.loginError = '';
                // Channels joined before a reconnect are joined again.
                s.people++;
                for (const buffer of s.buffers.values()) {
                    buffer.members.clear();
                    if (buffer.kind === 'channel' && s.lobby && fold(buffer.name) !== fold(s.lobby)) this.send('JOIN', [buffer.name]);
                }
            });
            if (this.enabledCaps.has('draft/chathistory')) {
                const now = Date.now();
                this.send('CHATHISTORY', ['TARGETS', timestamp(0), timestamp(now + 86400000), '100']);
            }
            this.on.ready?.();
        },
        '005'(m) {
            const tokens = {};
            for (const token of m.params.slice(1, -1)) {
                const equals = token.indexOf('=');
                tokens[equals < 0 ? token : token.slice(0, equals)] = equals < 0 ? '' : token.slice(equals + 1);
            }
            this.store.update((s) => {
                Object.assign(s.isupport, tokens);
                const host = tokens['draft/FILEHOST'] || tokens['soju.im/FILEHOST'];
                if (host) s.fileHost = host;
            });
            if (tokens['draft/FILEHOST'] || tokens['soju.im/FILEHOST']) this.on.fileHost?.();
        },
        432(m) {
            if (!this.registered) this.refuse(432, m.params.at(-1));
            else this.systemLine(m.params.at(-1));
        },
        433(m) {
            // Logged in by SASL, the account does not need its own nick: a second tab (or a
            // reconnect while the server still holds the old session) takes ann_, ann__, ...
            if (!this.registered && this.mode === 'login' && this.nickTries < 3) {
                this.nickTries++;
                this.send('NICK', [this.credentials.account + '_'.repeat(this.nickTries)]);
            } else if (!this.registered) this.refuse(433, m.params.at(-1));
            else this.systemLine(`${m.params[1]} is in use: pick another nick.`);
        },
        464(m) {
            this.refuse(464, m.params.at(-1));
        },
        465(m) {
            this.refuse(465, m.params.at(-1));
        },
        JOIN(m) {
            const nick = nickOf(m.source);
            const channel = m.params[0];
            this.store.update((s) => {
                s.people++;
                const buffer = this.buffer(s, channel, 'channel');
                if (fold(nick) === fold(s.me)) {
                    if (!s.lobby) s.lobby = channel;
                    if (!s.current) s.current = fold(channel);
                    buffer.parted = false;
                    buffer.members.clear();
                } else {
                    buffer.members.set(fold(nick), nick);
                    this.user(s, nick).online = true;
                    // The server stops telling joins past its quiet-presence mark: at the mark the
                    // next join may be silent, so LIST counts (now, and while it stays there).
                    const mark = Number(s.isupport.QUIETPRESENCE);
                    if (!buffer.large && mark > 0 && buffer.members.size >= mark) this.send('LIST', [channel]);
                }
            });
            if (fold(nick) === fold(this.store.state.me) && this.enabledCaps.has('draft/chathistory')) {
                this.requestHistory(channel, 'LATEST');
            }
        },
        PART(m) {
            const nick = nickOf(m.source);
            this.store.update((s) => {
                const buffer = s.buffers.get(fold(m.params[0]));
                if (!buffer) return;
                s.people++;
                if (fold(nick) === fold(s.me)) {
                    this.removeBuffer(s, buffer.name);
                } else {
                    buffer.members.delete(fold(nick));
                    buffer.version++;
                }
            });
        },
        KICK(m) {
            ChatClient.table.PART.call(this, { source: m.params[1] + '!', params: [m.params[0]] });
        },
        QUIT(m) {
            const nick = nickOf(m.source);
            this.store.update((s) => {
                s.people++;
                for (const buffer of s.buffers.values()) buffer.members.delete(fold(nick));
                const user = this.user(s, nick);
                user.online = false;
                user.away = false;
            });
        },
        NICK(m) {
            const old = nickOf(m.source);
            const now = m.params[0];
            this.store.update((s) => {
                s.people++;
                if (fold(old) === fold(s.me)) {
                    s.me = now;
                    this.credentials.nick = now;
                }
                for (const buffer of s.buffers.values()) {
                    if (buffer.members.delete(fold(old))) buffer.members.set(fold(now), now);
                }
                const user = s.users.get(fold(old));
                if (user) {
                    s.users.delete(fold(old));
                    user.nick = now;
                    s.users.set(fold(now), user);
                }
            });
        },
        AWAY(m) {
            const nick = nickOf(m.source);
            this.store.update((s) => {
                const user = this.user(s, nick);
                user.away = m.params.length > 0 && m.params[0] !== '';
                user.online = true;
                s.people++;
            });
        },
        305() {
            this.store.update((s) => {
                this.user(s, s.me).away = false;
                s.people++;
            });
            this.systemLine('You are back.');
        },
        306() {
            this.store.update((s) => {
                this.user(s, s.me).away = true;
                s.people++;
            });
            this.systemLine('You are marked away.');
        },
        301(m) {
            this.systemLine(`${m.params[1]} is away: ${m.params[2] || ''}`);
        },
        353(m) {
            const channel = m.params[2];
            const list = this.names.get(fold(channel)) || [];
            for (const entry of m.params[3].split(' ')) {
                const nick = entry.replace(/^[~&@%+]+/, '');
                if (nick) list.push(nick);
            }
            this.names.set(fold(channel), list);
        },
        366(m) {
            const channel = m.params[1];
            const list = this.names.get(fold(channel)) || [];
            this.names.delete(fold(channel));
            this.store.update((s) => {
                const buffer = s.buffers.get(fold(channel));
                if (!buffer) return;
                buffer.members.clear();
                for (const nick of list) {
                    buffer.members.set(fold(nick), nick);
                    this.user(s, nick).online = true;
                }
                buffer.version++;
                s.people++;
            });
            // A channel past the server's quiet-presence mark lists only its operators: LIST
            // says how many are really in.
            if (this.store.state.isupport.QUIETPRESENCE) this.send('LIST', [channel]);
        },
        322(m) {
            const [, channel, count] = m.params;
            this.store.update((s) => {
                const buffer = s.buffers.get(fold(channel));
                if (!buffer || buffer.kind !== 'channel') return;
                buffer.count = Number(count) || 0;
                const mark = Number(s.isupport.QUIETPRESENCE);
                const wasLarge = buffer.large;
                buffer.large = mark > 0 && buffer.count > mark;
                // Loud again: the members kept while it was quiet are stale; NAMES lists them all.
                if (wasLarge && !buffer.large) this.send('NAMES', [channel]);
                s.people++;
            });
        },
        352(m) {
            // WHO replies: the search of a large room's people.
            const nick = m.params[5];
            const flags = m.params[6] || '';
            this.store.update((s) => {
                const user = this.user(s, nick);
                user.online = true;
                user.away = flags.startsWith('G');
                if (s.search && s.search.pending && !s.search.results.some((found) => fold(found) === fold(nick))) s.search.results.push(nick);
                s.people++;
            });
        },
        315(m) {
            this.store.update((s) => {
                if (!s.search || !s.search.pending) return;
                s.search.pending = false;
                s.search.cut = /cut at/.test(m.params.at(-1) || '');
                s.people++;
            });
        },
        730(m) {
            this.monitored(m.params.at(-1), true);
        },
        731(m) {
            this.monitored(m.params.at(-1), false);
        },
        BATCH(m) {
            const reference = m.params[0];
            if (reference.startsWith('+')) {
                this.batches.set(reference.slice(1), { type: m.params[1], params: m.params.slice(2), count: 0 });
            } else {
                const batch = this.batches.get(reference.slice(1));
                this.batches.delete(reference.slice(1));
                if (batch && batch.type === 'chathistory') this.historyEnded(batch.params[0], batch.count);
            }
        },
        CHATHISTORY(m) {
            if (m.params[0] !== 'TARGETS') return;
            const target = m.params[1];
            this.store.update((s) => {
                this.buffer(s, target, isChannel(target, s.isupport.CHANTYPES) ? 'channel' : 'private');
            });
            if (!isChannel(target, this.store.state.isupport.CHANTYPES)) {
                // Its read marker is asked for when the history has come (historyEnded).
                this.requestHistory(target, 'LATEST');
                this.send('MONITOR', ['+', target]);
            }
        },
        MARKREAD(m) {
            const [target, value] = m.params;
            const time = value === '*' ? null : parseTime(value);
            this.store.update((s) => {
                const buffer = s.buffers.get(fold(target));
                if (!buffer) return;
                buffer.marker = Number.isNaN(time) ? null : time;
                buffer.markerKnown = true;
                buffer.version++;
                this.countUnread(s, buffer);
            });
        },
        PRIVMSG(m) {
            this.message(m, 'privmsg');
        },
        NOTICE(m) {
            this.message(m, 'notice');
        },
    };

    // MARK: state changes

    buffer(s, name, kind) {
        const key = fold(name);
        let buffer = s.buffers.get(key);
        if (!buffer) {
            buffer = newBuffer(name, kind);
            s.buffers.set(key, buffer);
            s.order.push(key);
        }
        return buffer;
    }

    removeBuffer(s, name) {
        const key = fold(name);
        s.buffers.delete(key);
        s.order = s.order.filter((k) => k !== key);
        if (s.current === key) s.current = s.lobby ? fold(s.lobby) : s.order[0] || null;
    }

    user(s, nick) {
        const key = fold(nick);
        let user = s.users.get(key);
        if (!user) {
            user = { nick, online: false, away: false };
            s.users.set(key, user);
        }
        return user;
    }

    monitored(list, online) {
        this.store.update((s) => {
            s.people++;
            for (const target of list.split(',')) {
                if (!target) continue;
                const nick = nickOf(target);
                s.contacts.add(fold(nick));
                const user = this.user(s, nick);
                user.online = online;
                if (!online) user.away = false;
            }
        });
    }

    systemLine(text) {
        this.store.update((s) => {
            const buffer = s.current && s.buffers.get(s.current);
            if (!buffer) return;
            buffer.messages.push({ system: true, text, time: Date.now(), from: '' });
            buffer.version++;
        });
    }

    message(m, kind) {
        const state = this.store.state;
        let text = m.params[1] || '';
        if (isOtherCTCP(text)) return;
        const from = nickOf(m.source);
        const target = m.params[0];
        if (!isUserSource(m.source) || target === '*') {
            // The server's notices (offline messages waiting, a message kept): said where the person looks.
            if (state.phase === 'ready') this.systemLine(text);
            return;
        }
        const action = actionText(text);
        if (action !== null) text = action;
        const mine = fold(from) === fold(state.me);
        const channel = isChannel(target, state.isupport.CHANTYPES);
        const name = channel ? target : mine ? target : from;
        const time = parseTime(m.tags.time);
        const batch = m.tags.batch && this.batches.get(m.tags.batch);
        if (batch) batch.count++;
        const entry = {
            id: m.tags.msgid || null,
            time: Number.isNaN(time) ? Date.now() : time,
            from,
            text,
            action: action !== null,
            notice: kind === 'notice',
            mine,
            history: !!batch,
        };
        let notify = null;
        this.store.update((s) => {
            const buffer = this.buffer(s, name, channel ? 'channel' : 'private');
            if (entry.id && buffer.ids.has(entry.id)) return;
            if (entry.id) buffer.ids.add(entry.id);
            entry.mention = !mine && channel && mentions(text, s.me);
            const appended = insertByTime(buffer.messages, entry) === buffer.messages.length - 1;
            buffer.version++;
            if (!channel && !mine && !s.contacts.has(fold(from))) {
                s.contacts.add(fold(from));
                s.people++;
                this.send('MONITOR', ['+', from]);
            }
            if (channel && !mine) {
                // Who spoke lately: the people a large room shows (it does not show who is in).
                const spoke = buffer.speakers.get(fold(from));
                if (!spoke || spoke.time < entry.time) {
                    buffer.speakers.set(fold(from), { nick: from, time: entry.time });
                    // Someone who speaks now is here; as the room is quiet, that is as last seen.
                    if (!entry.history && buffer.large) this.user(s, from).online = true;
                    if (buffer.large) s.people++;
                }
            }
            // A live line at the end adds to the count; history in the middle counts again.
            if (appended && !mine && (buffer.marker === null || entry.time > buffer.marker)) {
                buffer.unread++;
                buffer.mention ||= entry.mention;
            } else if (!appended && !entry.history) this.countUnread(s, buffer);
            if (!mine && !entry.history && (!channel || entry.mention)) notify = { from, text, buffer: buffer.name };
        });
        if (notify) this.on.notify?.(notify);
    }

    /** Unread: messages from others after the read marker; with no marker, all of them. */
    countUnread(s, buffer) {
        let unread = 0;
        let mention = false;
        for (let i = buffer.messages.length - 1; i >= 0; i--) {
            const message = buffer.messages[i];
            if (buffer.marker !== null && message.time <= buffer.marker) break;
            if (message.system || message.mine) continue;
            unread++;
            if (message.mention) mention = true;
        }
        buffer.unread = unread;
        buffer.mention = mention;
    }

    // MARK: requests

    requestHistory(target, kind) {
        const state = this.store.state;
        const buffer = state.buffers.get(fold(target));
        if (kind === 'BEFORE') {
            if (!buffer || buffer.historyLoading || buffer.historyDone) return;
            const oldest = buffer.messages.find((message) => !message.system);
            if (!oldest) return;
            const reference = oldest.id ? `msgid=${oldest.id}` : timestamp(oldest.time);
            this.store.update(() => {
                buffer.historyLoading = true;
            });
            this.send('CHATHISTORY', ['BEFORE', target, reference, String(historyPage)]);
        } else {
            this.send('CHATHISTORY', ['LATEST', target, '*', String(historyPage)]);
        }
    }

    historyEnded(target, count) {
        this.store.update((s) => {
            const buffer = s.buffers.get(fold(target));
            if (!buffer) return;
            buffer.historyLoading = false;
            if (count < historyPage) buffer.historyDone = true;
            buffer.version++;
            // History went in before the end: counted once for the whole batch.
            this.countUnread(s, buffer);
            // One question about a conversation at a time: the server names its answers by the
            // conversation's last question, so a marker asked during a history request may come
            // back under another name.
            if (buffer.kind === 'private' && !buffer.markerKnown && !buffer.markerAsked && this.enabledCaps.has('draft/read-marker')) {
                buffer.markerAsked = true;
                this.send('MARKREAD', [buffer.name]);
            }
        });
    }

    /** Moves the read marker of the open conversation to its newest message. */
    markRead(key) {
        const buffer = this.store.state.buffers.get(key);
        if (!buffer || !this.registered) return;
        const newest = buffer.messages.findLast((message) => !message.system);
        if (!newest || (buffer.marker !== null && newest.time <= buffer.marker)) {
            if (buffer.unread) this.store.update((s) => this.countUnread(s, buffer));
            return;
        }
        this.store.update((s) => {
            buffer.marker = newest.time;
            this.countUnread(s, buffer);
        });
        if (this.enabledCaps.has('draft/read-marker')) this.send('MARKREAD', [buffer.name, timestamp(newest.time)]);
    }

    open(name) {
        const state = this.store.state;
        const channel = isChannel(name, state.isupport.CHANTYPES);
        this.store.update((s) => {
            const buffer = this.buffer(s, name, channel ? 'channel' : 'private');
            s.current = fold(buffer.name);
            s.panel = null;
            if (!channel && !s.contacts.has(fold(name))) {
                s.contacts.add(fold(name));
                s.people++;
                this.send('MONITOR', ['+', name]);
            }
        });
        if (!channel && this.enabledCaps.has('draft/chathistory')) {
            const buffer = state.buffers.get(fold(name));
            if (buffer && buffer.messages.length === 0) this.requestHistory(name, 'LATEST');
        }
    }

    /** Searches the people who share a channel (WHO with a nick mask); `*` and `?` are wildcards. */
    search(text) {
        const words = text.trim();
        this.store.update((s) => {
            s.search = words ? { text: words, results: [], pending: true, cut: false } : null;
            s.people++;
        });
        if (words) this.send('WHO', [/[*?]/.test(words) ? words : `*${words}*`]);
    }

    /** Counts again (LIST) the members of channels that are large or at the mark, where joins may go untold. */
    recount() {
        const mark = Number(this.store.state.isupport.QUIETPRESENCE);
        if (!this.registered || !(mark > 0)) return;
        for (const buffer of this.store.state.buffers.values()) {
            if (buffer.kind === 'channel' && (buffer.large || buffer.members.size >= mark)) this.send('LIST', [buffer.name]);
        }
    }

    /** What the composer sends: a message, or one of the slash commands; false when nothing could go. */
    submit(text) {
        const state = this.store.state;
        if (!this.registered) {
            this.systemLine('Not sent: not connected yet. It stays in the box; send it again in a moment.');
            return false;
        }
        const current = state.current && state.buffers.get(state.current);
        if (text.startsWith('/') && !text.startsWith('//')) {
            const [word, ...rest] = text.slice(1).split(' ');
            const argument = rest.join(' ').trim();
            switch (word.toLowerCase()) {
            case 'me':
                if (current && argument) this.send('PRIVMSG', [current.name, `\x01ACTION ${argument}\x01`], true);
                return;
            case 'join': {
                const channel = argument.split(' ')[0];
                if (!channel) return this.systemLine('Usage: /join #channel');
                const name = isChannel(channel, state.isupport.CHANTYPES) ? channel : '#' + channel;
                this.send('JOIN', [name]);
                this.store.update((s) => {
                    s.current = fold(name);
                });
                return;
            }
            case 'part':
            case 'leave':
                if (current && current.kind === 'channel') this.send('PART', [current.name, argument || 'Leaving'], true);
                else if (current) this.store.update((s) => this.removeBuffer(s, current.name));
                return;
            case 'msg':
            case 'query': {
                const [nick, ...words] = argument.split(' ');
                if (!nick) return this.systemLine('Usage: /msg nick message');
                this.open(nick);
                if (words.length) this.send('PRIVMSG', [nick, words.join(' ')], true);
                return;
            }
            case 'away':
                if (argument) this.send('AWAY', [argument], true);
                else this.send('AWAY');
                return;
            case 'back':
                this.send('AWAY');
                return;
            case 'nick':
                if (!argument) return this.systemLine('Usage: /nick newnick');
                this.send('NICK', [argument.split(' ')[0]]);
                return;
            case 'quote':
            case 'raw':
                if (argument) this.connection.send(argument);
                return;
            default:
                return this.systemLine(`Unknown command /${word}: /me, /join, /part, /msg, /away, /back, /nick`);
            }
        }
        if (!current) return;
        const message = text.startsWith('//') ? text.slice(1) : text;
        if (!this.send('PRIVMSG', [current.name, message], true)) {
            this.systemLine('Not sent: the connection is down.');
            return false;
        }
        return true;
    }

    errorNumeric(m) {
        // The last parameter is the sentence; a name before it says what it is about.
        const about = m.params.length > 2 ? m.params[1] + ': ' : '';
        this.systemLine(about + (m.params.at(-1) || m.command));
    }
}

/** Whether text names nick as a word (case folded as nicks are). */
export function mentions(text, nick) {
    if (!nick) return false;
    const folded = fold(text);
    const target = fold(nick);
    let index = folded.indexOf(target);
    while (index >= 0) {
        const before = index === 0 ? '' : folded[index - 1];
        const after = folded[index + target.length] || '';
        if (!/[a-z0-9_{}|^`-]/.test(before) && !/[a-z0-9_{}|^`-]/.test(after)) return true;
        index = folded.indexOf(target, index + 1);
    }
    return false;
}

/** Keeps messages in time order (history arrives after newer live lines); returns where it went. */
function insertByTime(messages, entry) {
    let index = messages.length;
    if (index > 0 && messages[index - 1].time > entry.time) {
        // After every message not later than it (a binary search: history comes 100 at a time).
        let low = 0;
        while (low < index) {
            const middle = (low + index) >> 1;
            if (messages[middle].time > entry.time) index = middle;
            else low = middle + 1;
        }
    }
    messages.splice(index, 0, entry);
    return index;
}
