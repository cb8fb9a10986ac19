# Tests of the modbus devices emulator (issue 5): the thermal sensor and the door relay.
# Handlers without sockets (ManualClock, no threads).
gatetwin_test(modbus_devices_tests LABEL unit
  SOURCES devices/thermal_sensor_test.cpp devices/door_relay_test.cpp
  LIBS gatetwin::devices)
# Both devices against libmodbus's client on loopback, faults included.
gatetwin_test(modbus_devices_peer_tests LABEL integration SOURCES devices/modbus_devices_peer_test.cpp
  LIBS gatetwin::devices PkgConfig::LIBMODBUS)
# A thermal sensor and a relay on ephemeral ports for external masters: mbpoll, pymodbus, and tshark
# dissecting their traffic (tshark_capture.py, shared with the camera's tests).
add_executable(modbus_devices_server devices/modbus_devices_server.cpp)
target_link_libraries(modbus_devices_server PRIVATE gatetwin::devices gatetwin::options)
add_test(NAME modbus_devices_clients
  COMMAND ${GATETWIN_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/devices/test_modbus_clients.py
          $<TARGET_FILE:modbus_devices_server>)
set_tests_properties(modbus_devices_clients PROPERTIES LABELS integration TIMEOUT 120)
