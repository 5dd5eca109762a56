// Linked into the addon only (CMakeLists.txt, the prebuild block). The static libstdc++ calls
// arc4random (glibc 2.36) from std::random_device; defining it here, hidden, keeps the shipped
// binary's glibc floor at the 2.34 its libcrypto needs (docs/decisions.md, issue 13).
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v = 0;
  for (;;) {
    const ssize_t n = getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) return v;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const ssize_t n = read(fd, &v, sizeof v);
    close(fd);
    if (n == static_cast<ssize_t>(sizeof v)) return v;
  }
  // Only seeds backoff jitter: the clock is an acceptable last resort, aborting is not.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint32_t>(ts.tv_nsec) ^ static_cast<uint32_t>(ts.tv_sec) * 2654435761u;
}
