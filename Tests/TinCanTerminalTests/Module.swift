// TinCanTerminalTests
