// TinCanTerminal: see the files beside this one.
