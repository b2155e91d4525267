"""
Runs Eclipse Paho's interoperability client tests (vendored in test/paho/interoperability) against one
broker and reports each test as a JSON line on stdout, prefixed with "@@paho ". Driven by test-helpers/src/paho.ts.

Tether's own file, not upstream. It leaves the upstream test files unchanged: their __main__ blocks parse
argv with getopt and then call unittest.main(), which parses the same argv again (so -h/-p cannot reach
both) and prints no per-test result a program can read. Instead the suite is imported as a module, the
globals that __main__ would set (host, port, topics, ...) are set here, and the tests run under a
TestResult of our own:

- each test has a time limit (SIGALRM in the main thread, where the tests wait), so one hang costs one
  test: the alarm raises PahoTimeout where the test waits, and again every few seconds if the test
  swallows it (the upstream tests catch everything with a bare `except:`);
- what a test prints is captured, and the exceptions a test catches and prints (traceback.print_exc) are
  recorded, because most tests swallow the real failure and then assert `succeeded == True`.

Usage: python3 -B paho_driver.py --suite 3.1.1|5 --host HOST --port PORT [--nosubscribe-topic TOPIC]
       [--test-timeout SECONDS] [--timeouts JSON] [--setup-timeout SECONDS] [--list] [TEST_NAME ...]
(--timeouts: {"test_name": seconds} overriding --test-timeout for those tests)
Standard library only.
"""

import argparse
import io
import json
import os
import signal
import sys
import threading
import time
import traceback
import unittest

PAHO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "paho", "interoperability")
SUITES = {"3.1.1": "client_test", "5": "client_test5"}
MARK = "@@paho "
MAX_TEXT = 8000


class PahoTimeout(BaseException):
  """Raised by the per-test alarm. BaseException, though the tests' bare `except:` catches it anyway."""


def emit(event):
  sys.__stdout__.write(MARK + json.dumps(event) + "\n")
  sys.__stdout__.flush()


def clip(text, limit=MAX_TEXT):
  return text if len(text) <= limit else text[: limit // 2] + "\n...[cut]...\n" + text[-limit // 2 :]


def describe(exc_type, exc, tb):
  """One line: the exception, where it was raised, and the test line that led there."""
  name = getattr(exc_type, "__name__", str(exc_type))
  message = str(exc).strip().replace("\n", " ")
  text = "%s: %s" % (name, message) if message else name
  if len(text) > 400:
    text = text[:400] + "..."
  # the alarm's own frame (in this file) says nothing: start from where the test was waiting
  frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) != os.path.abspath(__file__)]
  if frames:
    inner = frames[-1]
    where = "%s:%d" % (os.path.basename(inner.filename), inner.lineno)
    if inner.line:
      where += " `%s`" % inner.line.strip()
    test_frames = [f for f in frames if os.path.basename(f.filename) in ("client_test.py", "client_test5.py")]
    if test_frames and test_frames[-1] is not inner:
      outer = test_frames[-1]
      where += " via %s:%d `%s`" % (os.path.basename(outer.filename), outer.lineno, (outer.line or "").strip())
    text += " at " + where
  return text


class Recorder:
  """Exceptions passed to traceback.print_exc while a test runs (the ones the tests swallow)."""

  def __init__(self):
    self.lock = threading.Lock()
    self.caught = []

  def reset(self):
    with self.lock:
      self.caught = []

  def install(self):
    original = traceback.print_exc
    recorder = self

    def print_exc(*args, **kwargs):
      info = sys.exc_info()
      if info[0] is not None:
        with recorder.lock:
          recorder.caught.append((threading.current_thread() is threading.main_thread(), info))
      return original(*args, **kwargs)

    traceback.print_exc = print_exc


class Alarm:
  """SIGALRM-based limit for the main thread: raises PahoTimeout after `seconds`, then every `again` s."""

  def __init__(self):
    self.fired = 0
    self.seconds = 0
    signal.signal(signal.SIGALRM, self.handler)

  def handler(self, signum, frame):
    self.fired += 1
    signal.setitimer(signal.ITIMER_REAL, 3.0)  # the test may swallow it: raise again until it returns
    raise PahoTimeout("test timed out after %g s (alarm %d)" % (self.seconds, self.fired))

  def arm(self, seconds):
    self.fired = 0
    self.seconds = seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)

  def disarm(self):
    signal.setitimer(signal.ITIMER_REAL, 0)


class JsonResult(unittest.TestResult):
  def __init__(self, alarm, recorder, test_timeout, timeouts):
    super().__init__()
    self.alarm = alarm
    self.recorder = recorder
    self.test_timeout = test_timeout
    self.timeouts = timeouts
    self.current = None

  def startTest(self, test):
    super().startTest(test)
    name = test.id().split(".")[-1]
    self.current = {"name": name, "outcome": "pass", "error": None, "started": time.monotonic()}
    self.recorder.reset()
    self.capture = io.StringIO()
    sys.stdout = sys.stderr = self.capture
    emit({"event": "start", "test": name})
    self.alarm.arm(self.timeouts.get(name, self.test_timeout))

  def addError(self, test, err):
    if self.current is None or not hasattr(test, "_testMethodName"):
      # setUpClass (or another class/module fixture) failed: unittest reports it on a placeholder
      emit({"event": "setup-error", "where": str(test), "detail": describe(*err),
            "trace": clip("".join(traceback.format_exception(*err)))})
      return
    super().addError(test, err)
    self.current["outcome"] = "timeout" if issubclass(err[0], PahoTimeout) else "error"
    self.current["error"] = err

  def addFailure(self, test, err):
    super().addFailure(test, err)
    self.current["outcome"] = "fail"
    self.current["error"] = err

  def stopTest(self, test):
    self.alarm.disarm()
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    super().stopTest(test)
    cur = self.current
    self.current = None
    with self.recorder.lock:
      caught = list(self.recorder.caught)
    timed_out = self.alarm.fired > 0
    outcome = cur["outcome"]
    if timed_out and outcome != "pass":
      outcome = "timeout"
    detail = ""
    trace = ""
    if cur["error"] is not None:
      err = cur["error"]
      detail = describe(*err)
      trace = "".join(traceback.format_exception(*err))
      # The usual upstream shape: `except: traceback.print_exc(); succeeded = False`, then
      # assertEqual(succeeded, True). The swallowed exception is the reason, not "False != True".
      swallowed = [info for main, info in caught if main]
      if swallowed and "False != True" in str(err[1]):
        detail = describe(*swallowed[0])
        if len(swallowed) > 1:
          detail += " (and %d more caught)" % (len(swallowed) - 1)
      # A client's receiver thread that died (e.g. on a packet the test client cannot decode) is often
      # the cause of what the test then saw.
      background = [info for main, info in caught if not main]
      if background:
        detail += "; receiver thread: " + describe(*background[0])
    elif timed_out:
      detail = "timed out after %g s; the test swallowed the timeout and passed" % self.alarm.seconds
    emit({
      "event": "result",
      "test": cur["name"],
      "outcome": outcome,
      "seconds": round(time.monotonic() - cur["started"], 2),
      "detail": detail,
      "trace": clip(trace),
      "output": clip(self.capture.getvalue()),
    })


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--suite", choices=sorted(SUITES), required=True)
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, required=True)
  parser.add_argument("--nosubscribe-topic", default="test/nosubscribe")
  parser.add_argument("--test-timeout", type=float, default=40.0)
  parser.add_argument("--timeouts", type=json.loads, default={})
  parser.add_argument("--setup-timeout", type=float, default=20.0)
  parser.add_argument("--list", action="store_true")
  parser.add_argument("tests", nargs="*")
  args = parser.parse_args()

  sys.dont_write_bytecode = True
  sys.path.insert(0, os.path.abspath(PAHO_DIR))
  suite = __import__(SUITES[args.suite])

  # What the upstream __main__ blocks set (their getopt parses -n but never uses it; the tests read
  # nosubscribe_topics). client_test5's setUpClass calls setData(), which resets the topics.
  topics = {
    "topics": ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA"),
    "wildtopics": ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#"),
    "nosubscribe_topics": (args.nosubscribe_topic,),
  }
  suite.host = args.host
  suite.port = args.port
  suite.topic_prefix = "client_test5/"  # only test_shared_subscriptions reads it
  for key, value in topics.items():
    setattr(suite, key, value)
  if hasattr(suite, "setData"):
    original_set_data = suite.setData

    def set_data():
      original_set_data()
      suite.nosubscribe_topics = (args.nosubscribe_topic,)

    suite.setData = set_data

  loader = unittest.TestLoader()
  names = args.tests or list(loader.getTestCaseNames(suite.Test))  # unittest.main's order (sorted)
  if args.list:
    emit({"event": "list", "tests": names})
    return
  emit({"event": "plan", "tests": names})

  alarm = Alarm()
  recorder = Recorder()
  recorder.install()

  # setUpClass cleans the broker (sessions, retained messages): bound it too.
  original_setup = suite.Test.setUpClass.__func__

  def bounded_setup(cls):
    alarm.arm(args.setup_timeout)
    try:
      original_setup(cls)
    finally:
      alarm.disarm()

  suite.Test.setUpClass = classmethod(bounded_setup)

  tests = unittest.TestSuite(suite.Test(name) for name in names)
  result = JsonResult(alarm, recorder, args.test_timeout, args.timeouts)
  tests.run(result)
  emit({"event": "done"})


if __name__ == "__main__":
  main()
  sys.stdout.flush()
  sys.stderr.flush()
  # The clients' receiver threads (_thread) may still be blocked on their sockets.
  os._exit(0)
