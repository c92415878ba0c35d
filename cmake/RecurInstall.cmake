# Install rules for recur: included from the top-level CMakeLists.txt when RECUR_INSTALL is on.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RECUR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/recur)

# The include directory reaches the export from recur's $<INSTALL_INTERFACE:include>.
install(TARGETS recur EXPORT recurTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/recur
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(EXPORT recurTargets NAMESPACE recur:: DESTINATION ${RECUR_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/recurConfig.cmake.in
  ${PROJECT_BINARY_DIR}/recurConfig.cmake INSTALL_DESTINATION ${RECUR_CMAKE_DIR})
# In 0.x every minor release may break the API (semver), so 0.1.x satisfies a request for
# 0.1 but not for 0.2, and 0.2 does not satisfy 0.1. SameMajorVersion would accept 0.2 for
# 0.1 and AnyNewerVersion any later version, both promising a compatibility 0.x does not
# give. Once 1.0 is out this should become SameMajorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/recurConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/recurConfig.cmake ${PROJECT_BINARY_DIR}/recurConfigVersion.cmake
  DESTINATION ${RECUR_CMAKE_DIR})

# pkg-config. The prefix is found from the .pc file's own location, so the file stays right
# when the tree is installed with `cmake --install --prefix` or moved. A consumer links the
# static archive itself, so Libs carries the OpenMP flag the library was built with; the
# headers use no OpenMP, so Cflags needs only -I (and the consumer's own -std=c++20).
cmake_path(RELATIVE_PATH CMAKE_INSTALL_PREFIX
  BASE_DIRECTORY ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
  OUTPUT_VARIABLE RECUR_PC_TO_PREFIX)
configure_file(${CMAKE_CURRENT_LIST_DIR}/recur.pc.in ${PROJECT_BINARY_DIR}/recur.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/recur.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
