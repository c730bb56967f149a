"""The worker's life as one state machine: running, draining, abandoning, flushing, stopped.

States only move forward, through named transitions, under one lock:

    RUNNING --request_stop--> DRAINING --abandon--> ABANDONING --flush--> FLUSHING --stop--> STOPPED
                                  \\___________________flush___________________/

- DRAINING: receivers stop; each group run finishes the message in hand and leaves the rest held.
- ABANDONING: the drain deadline passed (or a second signal came): leave even the message in hand.
- FLUSHING: every run is over; the deleter sends what is pending, then ends.
- STOPPED: what is still held has been released; the heartbeat, metrics and IMDS watch end.

A thread that must react to a state gets `signal(state)`: an Event-like view (`is_set`, `wait`) that is
set once the worker has reached that state, so the parts (InFlight, Deleter, InterruptionWatch) take
a plain "stop" signal and can be tested alone with a `threading.Event`.
"""

from __future__ import annotations

import enum
import threading
from typing import Protocol


class State(enum.IntEnum):
    RUNNING = 0
    DRAINING = 1
    ABANDONING = 2
    FLUSHING = 3
    STOPPED = 4


class StopSignal(Protocol):
    """What a part needs to know about stopping: `threading.Event` has this shape, and so does `Reached`."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class WorkerState:
    def __init__(self) -> None:
        self._state = State.RUNNING
        self._reason = ""
        self._changed = threading.Condition(threading.RLock())

    @property
    def state(self) -> State:
        with self._changed:
            return self._state

    @property
    def reason(self) -> str:
        """Why the drain began ('signal SIGTERM', 'spot-interruption', 'idle', ...); '' while running."""
        with self._changed:
            return self._reason

    def reached(self, state: State) -> bool:
        with self._changed:
            return self._state >= state

    def wait(self, state: State, timeout: float | None = None) -> bool:
        """Block until `state` is reached or `timeout` passes; True if reached."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state >= state, timeout)

    def signal(self, state: State) -> Reached:
        return Reached(self, state)

    # transitions ------------------------------------------------------------
    def _advance(self, to: State, allowed_from: frozenset[State]) -> bool:
        with self._changed:
            if self._state not in allowed_from:
                return False
            self._state = to
            self._changed.notify_all()
            return True

    def request_stop(self, reason: str) -> bool:
        """RUNNING -> DRAINING; False (and the first reason kept) when a drain is already under way."""
        with self._changed:  # re-entrant: the reason is set in the same critical section as the state
            if not self._advance(State.DRAINING, frozenset({State.RUNNING})):
                return False
            self._reason = reason
            return True

    def abandon(self) -> bool:
        """DRAINING -> ABANDONING: the deadline passed, or the operator insisted."""
        return self._advance(State.ABANDONING, frozenset({State.DRAINING}))

    def flush(self) -> bool:
        """DRAINING or ABANDONING -> FLUSHING: no run is active any more; pending deletes go out."""
        return self._advance(State.FLUSHING, frozenset({State.DRAINING, State.ABANDONING}))

    def stop(self) -> bool:
        """Any state -> STOPPED (also from RUNNING: a worker that cannot start stops its watchers)."""
        return self._advance(State.STOPPED, frozenset(State) - {State.STOPPED})


class Reached:
    """`StopSignal` view of a WorkerState: set once the worker has reached `state`."""

    def __init__(self, owner: WorkerState, state: State) -> None:
        self._owner = owner
        self._state = state

    def is_set(self) -> bool:
        return self._owner.reached(self._state)

    def wait(self, timeout: float | None = None) -> bool:
        return self._owner.wait(self._state, timeout)
