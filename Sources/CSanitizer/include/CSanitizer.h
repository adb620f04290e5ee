#ifndef CSANITIZER_H
#define CSANITIZER_H

// ThreadSanitizer annotations for synchronization that TSan cannot see by itself.
//
// The two functions come from the TSan runtime (compiler-rt's sanitizer/tsan_interface.h), which
// `swift build --sanitize=thread` links into the executable. They are declared weak, so in every
// other build they resolve to null and the wrappers below do nothing but one predictable branch;
// no build flag is needed to switch them on or off.

/// Runtime entry points, present only in a ThreadSanitizer build.
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

/// Tells TSan that this thread now sees everything done before the last `csanitizer_release`
/// on `addr` (the acquire half of a happens-before edge). Does nothing outside a TSan build.
static inline void csanitizer_acquire(const void *addr) {
    if (__tsan_acquire) __tsan_acquire((void *)addr);
}

/// Tells TSan that what this thread did so far is visible to the next `csanitizer_acquire` on
/// `addr` (the release half of a happens-before edge). Does nothing outside a TSan build.
static inline void csanitizer_release(const void *addr) {
    if (__tsan_release) __tsan_release((void *)addr);
}

#endif
