// makeDefaultPoller(): one place that picks the backend per platform.
#include "io/poller.h"

namespace diarkis {

std::unique_ptr<Poller> makeDefaultPoller() {
#if defined(_WIN32)
  return makeWsaPollPoller();
#elif defined(__linux__)
  return makeEpollPoller();
#else
  return makePollPoller();
#endif
}

}  // namespace diarkis
