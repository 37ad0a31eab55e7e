# Checks that the per-ISA kernel objects (engine/ops/gemm_cpu_avx2.cpp, gemm_cpu_avx512.cpp) define
# no weak symbols and no global symbol but their kernel tables. An inline function or template
# emitted there as a weak symbol could be the copy the linker keeps for every caller, so AVX-512
# code would run on the portable path of a CPU without it (gemm_cpu_kernel_common.h explains).
#   cmake -DNM=<nm> -DOBJECTS="a.o|b.o" -P check_kernel_symbols.cmake
string(REPLACE "|" ";" objects "${OBJECTS}")
list(LENGTH objects count)
if(count EQUAL 0)
  message(FATAL_ERROR "no kernel objects given")
endif()
foreach(object IN LISTS objects)
  execute_process(COMMAND "${NM}" --defined-only "${object}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REGEX MATCHALL "[^\n]* [VvWwu] [^\n]*" weak "${symbols}")
  if(weak)
    message(FATAL_ERROR "${object} defines weak symbols (give them internal linkage):\n${weak}")
  endif()
  string(REGEX MATCHALL "[^\n]* [BDRT] [^\n]*" global "${symbols}")
  foreach(symbol IN LISTS global)
    if(NOT symbol MATCHES "sgemm_kernel_(avx2|avx512)")
      message(FATAL_ERROR "${object} defines a global symbol other than its kernel table: ${symbol}")
    endif()
  endforeach()
endforeach()
message(STATUS "${count} kernel objects: no weak or stray global symbols")
