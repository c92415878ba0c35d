# Driver for the consumer tests, run with `cmake -P` by CTest. STEP is one of:
#   install    install the recur build tree BUILD_DIR into PREFIX (emptied first)
#   cmake      build SOURCE with tests/consumer/CMakeLists.txt (find_package) in WORK_DIR
#   pkgconfig  compile SOURCE with CXX and `pkg-config --cflags --libs recur` in WORK_DIR
# and then runs the program in WORK_DIR; or
#   optimized  configure tests/consumer/subdirectory (recur through add_subdirectory) with
#              BUILD_TYPE (empty: none) and OPTIMIZE (RECUR_OPTIMIZE), and check that every
#              compile command for recur's sources optimises (-O2 or -O3 last) exactly when
#              EXPECT_OPTIMIZED is true.
# Any failing step fails the test.
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
if(STEP STREQUAL "optimized")
  run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/subdirectory -B ${WORK_DIR} -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DRECUR_OPTIMIZE=${OPTIMIZE}
      -DRECUR_SOURCE=${RECUR_SOURCE} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  file(READ ${WORK_DIR}/compile_commands.json commands)
  string(JSON count LENGTH "${commands}")
  math(EXPR last "${count} - 1")
  set(checked 0)
  foreach(i RANGE ${last})
    string(JSON file GET "${commands}" ${i} file)
    string(JSON command GET "${commands}" ${i} command)
    if(NOT file MATCHES "/src/(kernels|layers|model)/")
      continue()
    endif()
    # The last -O flag on the line is the one the compiler obeys.
    string(REGEX MATCHALL "-O[0-9sgz]?" levels "${command}")
    list(POP_BACK levels level)
    if(level MATCHES "^-O[23]$")
      set(optimized TRUE)
    else()
      set(optimized FALSE)
    endif()
    if(NOT optimized STREQUAL EXPECT_OPTIMIZED)
      message(FATAL_ERROR "build type '${BUILD_TYPE}', RECUR_OPTIMIZE=${OPTIMIZE}: ${file} compiles with "
                          "'${level}' (expected optimised: ${EXPECT_OPTIMIZED}):\n${command}")
    endif()
    math(EXPR checked "${checked} + 1")
  endforeach()
  if(checked LESS 5)
    message(FATAL_ERROR "found only ${checked} of recur's sources in ${WORK_DIR}/compile_commands.json")
  endif()
  message(STATUS "${checked} sources compile as expected (optimised: ${EXPECT_OPTIMIZED})")
  return()
elseif(STEP STREQUAL "cmake")
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
