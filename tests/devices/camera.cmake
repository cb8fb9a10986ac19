# The camera: codecs (unit), a loopback server for client tools, and real clients (integration).
gatetwin_test(camera_codec_tests LABEL unit SOURCES devices/rtsp_test.cpp devices/rtp_jpeg_test.cpp
  LIBS gatetwin::devices opencv_imgcodecs)
add_executable(camera_server devices/camera_server.cpp)
target_link_libraries(camera_server PRIVATE gatetwin::devices gatetwin::options)
gatetwin_test(camera_peer_tests LABEL integration SOURCES devices/camera_peer_test.cpp
  LIBS gatetwin::devices opencv_videoio opencv_imgcodecs opencv_imgproc)
add_test(NAME camera_clients COMMAND ${GATETWIN_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/devices/test_camera_clients.py
         $<TARGET_FILE:camera_server> WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(camera_clients PROPERTIES LABELS integration TIMEOUT 180)
