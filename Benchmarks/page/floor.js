// The floor for Benchmarks/page/run.sh: the least a chat page can do with a lobby's messages. It
// opens the chat server's WebSocket (text.ircv3.net), logs in with SASL PLAIN, joins nothing (the
// server puts it in the lobby) and appends each PRIVMSG as one text <div>: no state, no sorting,
// no members, no history. Its address says where and who: floor.html?ws=ws://...&nick=N&password=P.

const query = new URLSearchParams(location.search);
const nick = query.get('nick');
const password = query.get('password');
const log = document.getElementById('log');
window.floor = { registered: false, inLobby: false, messages: 0 };

const socket = new WebSocket(query.get('ws'), ['text.ircv3.net']);
const send = (line) => socket.send(line);

socket.addEventListener('open', () => {
    send('CAP REQ :sasl');
    send(`NICK ${nick}`);
    send(`USER ${nick} 0 * :${nick}`);
    send('AUTHENTICATE PLAIN');
});

socket.addEventListener('message', (event) => {
    for (const line of event.data.split(/\r?\n/)) {
        if (line) receive(line);
    }
});

function receive(line) {
    // [@tags] [:source] COMMAND params... [:trailing]
    let rest = line;
    if (rest.startsWith('@')) rest = rest.slice(rest.indexOf(' ') + 1);
    let source = '';
    if (rest.startsWith(':')) {
        const space = rest.indexOf(' ');
        source = rest.slice(1, space);
        rest = rest.slice(space + 1);
    }
    const colon = rest.indexOf(' :');
    const words = (colon < 0 ? rest : rest.slice(0, colon)).split(' ').filter(Boolean);
    const command = words.shift();
    const params = colon < 0 ? words : [...words, rest.slice(colon + 2)];
    switch (command) {
    case 'PRIVMSG': {
        const row = document.createElement('div');
        row.dataset.test = 'message';
        row.textContent = `${source.split('!')[0]}: ${params[1] || ''}`;
        log.append(row);
        window.floor.messages++;
        break;
    }
    case 'PING':
        send(`PONG :${params[0] || ''}`);
        break;
    case 'AUTHENTICATE':
        if (params[0] === '+') send(`AUTHENTICATE ${btoa(`\0${nick}\0${password}`)}`);
        break;
    case '903':
        send('CAP END');
        break;
    case '001':
        window.floor.registered = true;
        break;
    case '366':
        window.floor.inLobby = true;
        break;
    default:
        break;
    }
}
