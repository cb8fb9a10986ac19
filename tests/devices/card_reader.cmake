# Tests of the card reader emulator (issue 5): the Wiegand TCP codec and the card sources (unit), and the
# reader on loopback against plain socket hosts, with faults (integration).

gatetwin_test(card_reader_tests LABEL unit
  SOURCES devices/wiegand_tcp_test.cpp devices/wiegand_published_test.cpp devices/card_source_test.cpp
  LIBS gatetwin::devices)
gatetwin_test(card_reader_peer_tests LABEL integration SOURCES devices/card_reader_server_test.cpp
  LIBS gatetwin::devices)

# The reader against an independent peer: a Python host with its own decoder, and tshark dissecting the
# same bytes with the project's Lua dissector (no malformed packets). The server program is thin: it
# prints "ready port=P" and presents the frames named on its standard input.
add_executable(card_reader_server devices/card_reader_server.cpp)
target_link_libraries(card_reader_server PRIVATE gatetwin::devices gatetwin::options)
find_program(GATETWIN_TSHARK tshark)
find_program(GATETWIN_TEXT2PCAP text2pcap)
if(GATETWIN_TSHARK AND GATETWIN_TEXT2PCAP)
  add_test(NAME card_reader_wire
           COMMAND ${GATETWIN_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/devices/card_reader_peer.py
                   $<TARGET_FILE:card_reader_server> ${PROJECT_SOURCE_DIR}/tools/wireshark/wiegand_tcp.lua)
  set_tests_properties(card_reader_wire PROPERTIES LABELS integration TIMEOUT 60)
else()
  message(STATUS "card_reader_wire skipped: tshark and text2pcap not found (scripts/setup.sh installs tshark)")
endif()
