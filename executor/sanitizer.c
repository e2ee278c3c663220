/* Sanitizer builds only. LeakSanitizer inspects the process with ptrace at
 * exit, which the executor's seccomp filter forbids, and CPython keeps
 * allocations alive on purpose; so the executor, and only the executor,
 * runs without leak detection. The supervisor and common/ stay checked.
 * The executor starts with an empty environment, so these defaults are
 * all the options its sanitizers get: undefined behaviour must stop it,
 * as it stops the other programs under `meson test`. A segfault in user
 * code (ctypes) must kill the executor by SIGSEGV, as in a normal build,
 * so that the supervisor reports it as such: AddressSanitizer does not
 * take over the fatal signals. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__lsan_default_options(void);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

const char *__asan_default_options(void)
{
    return "detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0";
}

const char *__lsan_default_options(void)
{
    return "detect_leaks=0";
}
#endif
