# Tests of the camera emulator (issue 5).
