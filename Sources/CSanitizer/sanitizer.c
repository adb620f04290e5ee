// Everything is static inline in include/CSanitizer.h; SwiftPM needs one source file per C target.
#include "CSanitizer.h"
