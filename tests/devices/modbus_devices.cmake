# Tests of the modbus devices emulator (issue 5).
