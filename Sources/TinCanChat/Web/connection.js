// The WebSocket to this server's /socket (IRCv3 WebSocket, text.ircv3.net: one IRC line per
// text message), reopened after a drop with a growing delay, so that a server restart is
// survived without hammering it while it is down.

const firstDelay = 1000;
const longestDelay = 30000;

export class Connection {
    /**
     * @param {object} handlers onOpen(), onLine(line), onState('connecting' | 'open' | 'offline', retryInMs)
     */
    constructor(handlers) {
        this.handlers = handlers;
        this.socket = null;
        this.delay = firstDelay;
        this.timer = null;
        this.wanted = false;
    }

    static url() {
        const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
        return `${scheme}//${location.host}/socket`;
    }

    open() {
        this.wanted = true;
        clearTimeout(this.timer);
        this.timer = null;
        if (this.socket) return;
        this.handlers.onState('connecting');
        const socket = new WebSocket(Connection.url(), ['text.ircv3.net']);
        this.socket = socket;
        socket.addEventListener('open', () => {
            this.delay = firstDelay;
            this.handlers.onState('open');
            this.handlers.onOpen();
        });
        socket.addEventListener('message', (event) => {
            if (typeof event.data === 'string') {
                for (const line of event.data.split(/\r?\n/)) if (line) this.handlers.onLine(line);
            }
        });
        socket.addEventListener('close', () => {
            if (this.socket !== socket) return;
            this.socket = null;
            if (!this.wanted) return;
            const delay = this.delay;
            this.delay = Math.min(this.delay * 2, longestDelay);
            this.handlers.onState('offline', delay);
            this.timer = setTimeout(() => this.open(), delay);
        });
    }

    /** Closes for good (log out, a refused login): no reconnecting. */
    close() {
        this.wanted = false;
        clearTimeout(this.timer);
        this.timer = null;
        const socket = this.socket;
        this.socket = null;
        if (socket) socket.close(1000);
    }

    /** Tries again now (the banner's "retry" button, or the browser coming back online). */
    retryNow() {
        if (this.wanted && !this.socket) this.open();
    }

    send(line) {
        if (this.socket && this.socket.readyState === WebSocket.OPEN) {
            this.socket.send(line);
            return true;
        }
        return false;
    }
}
