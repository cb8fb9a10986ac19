# Tests of the card reader emulator (issue 5): the Wiegand TCP codec and the card sources (unit), and the
# reader on loopback against plain socket hosts, with faults (integration).

# Transitional: the transport codec's source is not in devices/CMakeLists.txt yet (it is kept out of
# card_reader.cpp so that the fuzzer can build it without Boost). Once it is listed there, this is a no-op.
get_target_property(_gatetwin_devices_sources gatetwin_devices SOURCES)
if(NOT "src/wiegand_tcp.cpp" IN_LIST _gatetwin_devices_sources)
  target_sources(gatetwin_devices PRIVATE ${PROJECT_SOURCE_DIR}/devices/src/wiegand_tcp.cpp)
endif()

gatetwin_test(card_reader_tests LABEL unit SOURCES devices/wiegand_tcp_test.cpp devices/card_source_test.cpp
  LIBS gatetwin::devices)
gatetwin_test(card_reader_peer_tests LABEL integration SOURCES devices/card_reader_server_test.cpp
  LIBS gatetwin::devices)
