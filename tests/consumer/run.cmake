# Driver for the consumer tests, run with `cmake -P` by CTest. STEP is one of:
#   install    install the recur build tree BUILD_DIR into PREFIX (emptied first)
#   cmake      build SOURCE with tests/consumer/CMakeLists.txt (find_package) in WORK_DIR
#   pkgconfig  compile SOURCE with CXX and `pkg-config --cflags --libs recur` in WORK_DIR
# and then runs the program in WORK_DIR. Any failing step fails the test.
cmake_minimum_required(VERSION 3.25)

function(run)
  list(JOIN ARGV " " command)
  message(STATUS "run: ${command}")
  execute_process(COMMAND ${ARGV} WORKING_DIRECTORY ${WORK_DIR} COMMAND_ERROR_IS_FATAL ANY)
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  set(WORK_DIR ${BUILD_DIR})
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} --config ${CONFIG})
  return()
endif()

# A fresh directory each time, so nothing cached from an earlier run hides a failure.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
if(STEP STREQUAL "cmake")
  run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${WORK_DIR} -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_PREFIX_PATH=${PREFIX} -DCONSUMER_SOURCE=${SOURCE})
  run(${CMAKE_COMMAND} --build ${WORK_DIR} --config Release)
elseif(STEP STREQUAL "pkgconfig")
  set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs recur
    OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  message(STATUS "pkg-config --cflags --libs recur: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++20 -O2 ${SOURCE} ${flags} -o consumer)
else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
run(${WORK_DIR}/consumer)
