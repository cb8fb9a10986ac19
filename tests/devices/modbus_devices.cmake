# Tests of the modbus devices emulator (issue 5): the thermal sensor and the door relay.
# Handlers without sockets (ManualClock, no threads).
gatetwin_test(modbus_devices_tests LABEL unit
  SOURCES devices/thermal_sensor_test.cpp devices/door_relay_test.cpp
  LIBS gatetwin::devices)
# Both devices against libmodbus's client on loopback, faults included.
gatetwin_test(modbus_devices_peer_tests LABEL integration SOURCES devices/modbus_devices_peer_test.cpp
  LIBS gatetwin::devices PkgConfig::LIBMODBUS)
