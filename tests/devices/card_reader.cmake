# Tests of the card reader emulator (issue 5).
