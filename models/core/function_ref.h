// A non-owning reference to a callable, for callbacks that are rarely called
// but passed on every event (the checker's namers, used only to word a
// violation): unlike std::function it costs two pointers to pass and never
// allocates. The callable must outlive the call it is passed to.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace fpusim {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                          std::is_invocable_r_v<R, F&, Args...>,
                                      int> = 0>
  FunctionRef(F&& f) noexcept {  // NOLINT: implicit, like std::function
    using T = std::remove_reference_t<F>;
    if constexpr (std::is_function_v<T>) {
      target_.fn = &f;
      call_ = [](Target t, Args... a) -> R { return t.fn(std::forward<Args>(a)...); };
    } else {
      target_.obj = const_cast<void*>(static_cast<const void*>(std::addressof(f)));
      call_ = [](Target t, Args... a) -> R { return (*static_cast<T*>(t.obj))(std::forward<Args>(a)...); };
    }
  }

  R operator()(Args... a) const { return call_(target_, std::forward<Args>(a)...); }

 private:
  union Target {
    void* obj;
    R (*fn)(Args...);
  };
  Target target_;
  R (*call_)(Target, Args...);
};

}  // namespace fpusim
