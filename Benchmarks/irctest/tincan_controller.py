"""irctest controller for `tincan chat serve` (tincan's own code, not irctest's).

Benchmarks/irctest/run.sh copies this file into a temporary copy of irctest as
irctest/controllers/tincan.py. The binary is $TINCAN_BIN (default: `tincan` on PATH).

What it declares is what tincan claims: every capability in `capabilities` is
one the README lists, so a test of it fails rather than skips when it does not
work.
"""

import os
import shutil
from typing import Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.specifications import Capabilities, OptionalBehaviors


class TincanController(BaseServerController, DirectoryBasedController):
    software_name = "tincan"
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False

    capabilities = frozenset(
        (
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.EXTENDED_MONITOR,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.READ_MARKER,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        )
    )

    optional_behaviors = frozenset(())

    def create_config(self) -> None:
        super().create_config()

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory

        binary = os.environ.get("TINCAN_BIN", "tincan")
        args = [
            binary, "chat", "serve",
            "--host", hostname,
            "--name", "My.Little.Server",
            # irctest's servers describe themselves so (LINKS checks it).
            "--server-info", "test server",
            "--oper", "operuser:operpassword",
            "--no-flood-limit",
            "--lobby", os.environ.get("TINCAN_LOBBY", "none"),
            "--db", str(self.directory / "chat.sqlite"),
            # irctest's accounts have passwords of 3 characters ("bar"); tincan's default is 8.
            "--min-password-length", "1",
        ]
        if ssl:
            self.gen_ssl()
            (_, plain_port) = self.get_hostname_and_port()
            args += ["--port", str(plain_port), "--tls-port", str(port),
                     "--cert", str(self.pem_path), "--key", str(self.key_path)]
        else:
            args += ["--port", str(port)]
        if password:
            args += ["--password", password]
        if websocket_port is not None:
            args += ["--http-port", str(websocket_port), "--allow-origin", "*",
                     "--files", str(self.directory / "files")]

        if faketime and shutil.which("faketime"):
            args = ["faketime", "-f", faketime, *args]
            self.faketime_enabled = True

        self.proc = self.execute(args)

    def wait_for_services(self) -> None:
        # NickServ is part of the server: nothing else to wait for.
        pass

    def registerUser(self, case, username: str, password: Optional[str] = None) -> None:  # type: ignore
        # Accounts are built in (REGISTER and NickServ): no services process.
        client = case.addClient(show_io=False)
        case.sendLine(client, "CAP LS 302")
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER r e g :user")
        case.sendLine(client, "CAP END")
        while case.getRegistrationMessage(client).command != "001":
            pass
        case.getMessages(client)
        assert password
        case.sendLine(client, "NS REGISTER " + password)
        while True:
            msg = case.getMessage(client)
            if msg.command == "NOTICE" and msg.prefix and msg.prefix.startswith("NickServ!"):
                break
        assert "registered; you are logged in" in msg.params[-1], msg
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)


def get_irctest_controller_class() -> Type[TincanController]:
    return TincanController
