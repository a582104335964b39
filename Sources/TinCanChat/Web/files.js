// Files: uploads to this server's FILEHOST (XMLHttpRequest, for its upload progress), and what
// the page knows of a received link to one of this server's files.

import { base64UTF8 } from './irc.js';

/** `Upload-Limit: max-size=N` from the upload URI's OPTIONS answer; null when it says none. */
export async function uploadLimit() {
    const response = await fetch('/upload', { method: 'OPTIONS', credentials: 'omit' });
    const header = response.headers.get('Upload-Limit') || '';
    const match = /max-size=(\d+)/.exec(header);
    return match ? Number(match[1]) : null;
}

export function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = -1;
    do {
        value /= 1024;
        unit++;
    } while (value >= 1024 && unit < units.length - 1);
    return `${value >= 10 ? Math.round(value) : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

/**
 * Sends one file. `events`: progress(loaded, total), done(url), failed(sentence). Returns a
 * function that cancels it.
 */
export function upload(file, { account, password, limit }, events) {
    if (limit !== null && file.size > limit) {
        events.failed(`${file.name || 'The file'} is too large (max ${formatSize(limit)}).`);
        return () => {};
    }
    const request = new XMLHttpRequest();
    request.open('POST', '/upload');
    request.setRequestHeader('Authorization', 'Basic ' + base64UTF8(`${account}:${password}`));
    request.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    request.setRequestHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.name || 'file')}`);
    request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) events.progress(event.loaded, event.total);
    });
    request.addEventListener('load', () => {
        if (request.status === 201) {
            const url = request.getResponseHeader('Location') || request.responseText.trim();
            return events.done(url);
        }
        if (request.status === 413) {
            const header = request.getResponseHeader('Upload-Limit') || '';
            const match = /max-size=(\d+)/.exec(header);
            if (match) return events.failed(`${file.name || 'The file'} is too large (max ${formatSize(Number(match[1]))}).`);
            return events.failed(request.responseText.trim() || 'The file is over your quota.');
        }
        if (request.status === 401) return events.failed('The server did not accept your password for uploads; log in again.');
        events.failed(`The upload failed: ${request.responseText.trim() || request.status}`);
    });
    request.addEventListener('error', () => events.failed('The upload failed: the connection broke.'));
    request.addEventListener('abort', () => events.failed('Upload cancelled.'));
    request.upload.addEventListener('loadstart', () => events.progress(0, file.size));
    request.send(file);
    return () => request.abort();
}

const fileIdPattern = /^\/files\/[0-9a-f]{32}$/;

/**
 * The path of a link that may be to one of this server's files: `/files/<id>` on the page's own
 * origin or on the origin FILEHOST announced (`sure`), or on another origin (not sure: a client
 * that reached the server at another address, such as 127.0.0.1 for a page on localhost, got a
 * link with that address). Ids are 128 random bits, so a file this server has under that id is
 * that file; only this server is asked, never the link's host. Null for any other link.
 */
export function ownFilePath(link, fileHost) {
    let url;
    try {
        url = new URL(link);
    } catch {
        return null;
    }
    if (!fileIdPattern.test(url.pathname) || url.search || url.hash) return null;
    const origins = new Set([location.origin]);
    if (fileHost) {
        try {
            origins.add(new URL(fileHost).origin);
        } catch {
            // A FILEHOST that is no URL adds nothing.
        }
    }
    return { path: url.pathname, sure: origins.has(url.origin) };
}

const infos = new Map();

/** Name, size and type of one of this server's files (a HEAD request, once per path). */
export function fileInfo(path) {
    if (!infos.has(path)) {
        const info = fetch(path, { method: 'HEAD', credentials: 'omit' }).then((response) => {
            if (!response.ok) return { missing: true };
            return {
                name: dispositionName(response.headers.get('Content-Disposition')) || 'file',
                size: Number(response.headers.get('Content-Length') || 0),
                type: (response.headers.get('Content-Type') || '').split(';')[0].trim().toLowerCase(),
            };
        }).catch(() => ({ missing: true }));
        infos.set(path, info);
    }
    return infos.get(path);
}

export function dispositionName(header) {
    if (!header) return null;
    const extended = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (extended) {
        try {
            return decodeURIComponent(extended[1].trim());
        } catch {
            // Fall back to the plain name.
        }
    }
    const plain = /filename="((?:[^"\\]|\\.)*)"/i.exec(header);
    return plain ? plain[1].replace(/\\(.)/g, '$1') : null;
}

export const previewTypes = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
