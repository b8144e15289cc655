# The warning set of ../shared/docs/c-style.md §3.9, applied to loa's own targets only.
set(LOA_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations -Wold-style-definition
    -Wpointer-arith -Wcast-qual -Wcast-align -Wwrite-strings -Wundef -Wvla -Wformat=2
    -Wformat-security -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough
    -Wredundant-decls -Wnested-externs -Wbad-function-cast -Wfloat-equal
    -Werror=implicit-function-declaration -Werror=incompatible-pointer-types
    -Werror=int-conversion)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    list(APPEND LOA_WARNINGS -Wduplicated-cond -Wduplicated-branches -Wlogical-op -Wrestrict
         -Walloca -Wformat-overflow=2 -Wformat-truncation=2)
elseif(CMAKE_C_COMPILER_ID MATCHES "Clang")
    list(APPEND LOA_WARNINGS -Wshorten-64-to-32 -Wconditional-uninitialized
         -Wmissing-variable-declarations -Wcomma -Wassign-enum -Wextra-semi-stmt)
endif()
if(LOA_WERROR)
    list(APPEND LOA_WARNINGS -Werror)
endif()

# loa_target(<name>): warnings and include paths for one of loa's targets.
# Fences: a target sees the public headers (include/) and its own folder (the folder of the
# CMakeLists.txt that calls loa_target, added privately) and nothing else of src/, so a module
# cannot include another module's private header. A unit test that checks a module's insides
# adds that module's folder itself. tests/fences proves it (ctest -R fence).
function(loa_target name)
    target_compile_options(${name} PRIVATE ${LOA_WARNINGS})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                ${CMAKE_CURRENT_SOURCE_DIR})
endfunction()
