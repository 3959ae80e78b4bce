/* sanitize: the sanitizer build's (cmake -DDF_SANITIZE=ON) default runtime options, compiled into
 * every executable that links the engine (the dagflow binary and the unit tests); empty in other
 * builds. ASAN_OPTIONS set by hand still override each option named here.
 *
 * intercept_tls_get_addr=0: the AddressSanitizer runtime of GCC 12 (and of GCC 13 and LLVM up to
 * 16) records each dynamic TLS block the dynamic linker hands out through __tls_get_addr, and
 * takes a block that starts 16 bytes past a page boundary for a glibc 2.19 block, reading the two
 * words before it as the block's start and size. Since glibc 2.25 there is no such header: the
 * block is a plain malloc'd one, and the two words are ASan's own chunk header. LeakSanitizer's
 * tracer then scans a range like 0x3bf-0x1000001102 at exit and dies with SIGSEGV ("Tracer caught
 * signal 11: addr=0x3c0"), which makes the process exit 1 after a run that ended SUCCESS. Here the
 * block was libgnutls's 16 bytes (pulled in by libpq, dlopen'd by store/pg/pq_dl.c), put by ASan's
 * allocator at 0x602000008010: whether it lands there depends on how many small allocations came
 * before, so the crash came and went with unrelated commits (google/sanitizers issue 1322).
 * Without the interception LeakSanitizer still scans every thread's stack and static TLS, and
 * the dynamic TLS blocks are malloc'd chunks reached from each thread's dtv like any other (a
 * leaked malloc is still reported). */
#if defined(DF_SANITIZE)

/* Called by the sanitizer runtime at start-up, before main: the options it starts from
 * (a static string; the runtime's hook, hence the name). Thread-safety: called once, alone. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "intercept_tls_get_addr=0";
}

#else
typedef int df_sanitize_unused; /* ISO C wants a translation unit to declare something */
#endif
