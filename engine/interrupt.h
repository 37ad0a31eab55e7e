// Graceful Ctrl-C / SIGTERM for long commands. While an InterruptHandler is alive, the first
// SIGINT or SIGTERM only sets a flag: the work loop sees it at its next safe point (dispa train:
// after the current step), saves what it needs and throws Interrupted, which tools/main.cpp turns
// into a message and exit status 128 + signal (130 for SIGINT, 143 for SIGTERM). A second signal
// ends the process at once by the default action of that signal (no cleanup: the last complete
// checkpoint is still on disk).
#pragma once
#include <csignal>
#include <string>

#include "engine/error.h"

namespace dispa {

class InterruptHandler {
 public:
  InterruptHandler();   // installs the handlers and clears the flag
  ~InterruptHandler();  // restores the previous handlers
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

 private:
  struct sigaction old_int_{}, old_term_{};
};

// The signal received since the handler was installed (SIGINT or SIGTERM), 0 if none.
int interrupt_signal();
const char* signal_name(int signal);  // "SIGINT", "SIGTERM"

// Thrown by work loops that stopped on a signal after saving their state; the message says what
// was saved and how to continue.
class Interrupted : public Error {
 public:
  Interrupted(int signal, const std::string& message) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

}  // namespace dispa
