// IRC messages as the page reads and writes them (RFC 1459 framing with IRCv3 message tags).
// Nothing here touches the DOM: a message is data, and views put its text in with textContent.

const tagEscapes = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTag(value) {
    return value.replace(/\\(.?)/g, (_, c) => (c in tagEscapes ? tagEscapes[c] : c));
}

function escapeTag(value) {
    return value.replace(/[\\; \r\n]/g, (c) => ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[c]);
}

/** Parses one line (without CR LF) into { tags, source, command, params }; null for an empty line. */
export function parse(line) {
    let rest = line.replace(/[\r\n]+$/, '');
    const message = { tags: {}, source: null, command: '', params: [] };
    if (rest.startsWith('@')) {
        const space = rest.indexOf(' ');
        if (space < 0) return null;
        for (const item of rest.slice(1, space).split(';')) {
            if (!item) continue;
            const equals = item.indexOf('=');
            if (equals < 0) message.tags[item] = '';
            else message.tags[item.slice(0, equals)] = unescapeTag(item.slice(equals + 1));
        }
        rest = rest.slice(space + 1).replace(/^ +/, '');
    }
    if (rest.startsWith(':')) {
        const space = rest.indexOf(' ');
        if (space < 0) return null;
        message.source = rest.slice(1, space);
        rest = rest.slice(space + 1).replace(/^ +/, '');
    }
    while (rest.length > 0) {
        if (rest.startsWith(':')) {
            message.params.push(rest.slice(1));
            break;
        }
        const space = rest.indexOf(' ');
        const word = space < 0 ? rest : rest.slice(0, space);
        if (message.command === '') message.command = word.toUpperCase();
        else message.params.push(word);
        if (space < 0) break;
        rest = rest.slice(space + 1).replace(/^ +/, '');
    }
    return message.command ? message : null;
}

/**
 * Formats a command and its parameters as one line (without CR LF). The last parameter is sent
 * as a trailing one when it needs to be (empty, a space, or a leading colon) or when `trailing`.
 * Line breaks in a parameter would start a new command, so they become spaces.
 */
export function format(command, params = [], { tags = null, trailing = false } = {}) {
    const words = [command];
    params.forEach((param, index) => {
        const value = String(param).replace(/[\r\n\0]+/g, ' ');
        const last = index === params.length - 1;
        if (last && (trailing || value === '' || value.includes(' ') || value.startsWith(':'))) words.push(':' + value);
        else words.push(value);
    });
    let line = words.join(' ');
    if (tags) {
        const text = Object.entries(tags).map(([k, v]) => (v === '' ? k : `${k}=${escapeTag(v)}`)).join(';');
        if (text) line = `@${text} ${line}`;
    }
    return line;
}

/** The nick of a source `nick!user@host`; the whole source when it is a server's name. */
export function nickOf(source) {
    if (!source) return '';
    const bang = source.indexOf('!');
    return bang < 0 ? source : source.slice(0, bang);
}

/** Whether a source is a user (nick!user@host) rather than a server. */
export function isUserSource(source) {
    return !!source && source.includes('!');
}

/** RFC 1459 case folding, as tincan's CASEMAPPING=rfc1459: nicks that differ only in case are one. */
export function fold(name) {
    return name.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c]);
}

export function isChannel(name, chantypes = '#&') {
    return name.length > 0 && chantypes.includes(name[0]);
}

/** A CTCP ACTION's text (`/me`), or null for any other text. */
export function actionText(text) {
    const match = /^\x01ACTION ?(.*?)\x01?$/.exec(text);
    return match ? match[1] : null;
}

/** `\x01...\x01` other than ACTION: CTCP queries and replies, not shown as messages. */
export function isOtherCTCP(text) {
    return text.startsWith('\x01') && actionText(text) === null;
}

/** Base64 of a string's UTF-8 bytes (btoa alone takes Latin-1 only). */
export function base64UTF8(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary);
}

/** The SASL PLAIN payload, split into AUTHENTICATE lines of at most 400 bytes (with `+` after a full one). */
export function saslPlain(name, password) {
    const encoded = base64UTF8(`\0${name}\0${password}`);
    const chunks = [];
    for (let i = 0; i < encoded.length; i += 400) chunks.push(encoded.slice(i, i + 400));
    if (encoded.length % 400 === 0) chunks.push('+');
    return chunks;
}

/** `timestamp=...` for CHATHISTORY and MARKREAD, from milliseconds since 1970. */
export function timestamp(milliseconds) {
    return 'timestamp=' + new Date(milliseconds).toISOString();
}

/** Milliseconds since 1970 from a `time` tag or `timestamp=...`; NaN for anything else. */
export function parseTime(text) {
    if (!text) return NaN;
    return Date.parse(text.startsWith('timestamp=') ? text.slice(10) : text);
}
