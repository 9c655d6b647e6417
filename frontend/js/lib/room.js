// A room's WebSocket (the room protocol of tendering/room/, docs/opening.md §5) from the page: the opening
// hall and the evaluation session both speak it. A snapshot, then the events applied in sequence order,
// each once. After a drop it reconnects with exponential back-off and resumes from the last sequence
// number it applied; the server answers with what was missed (or a fresh snapshot). Commands carry a
// `ref`; their promise settles with the reply.

import { CloseCode, FINAL_CLOSES as FINAL } from "./room-codes.js";

// Close codes after which trying again cannot help (docs/opening.md §5).
const FINAL_CLOSES = new Set(FINAL);
const NOT_OPEN_YET = CloseCode.NOT_OPEN;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const PING_EVERY_MS = 25000;

/** The server refused a command: `code`, `message` in the reader's language, `fields`. */
export class RoomError extends Error {
  constructor(frame) {
    super(frame.message || frame.code);
    this.code = frame.code;
    this.fields = frame.fields ?? null;
  }
}

/** The command never got its answer: the connection was not open, or dropped before the reply. */
export class RoomDisconnected extends Error {}

/** The command's frame is larger than the server takes (`max_frame_bytes` of its hello). */
export class FrameTooLarge extends Error {}

export class RoomClient {
  /**
   * `handlers`: onSnapshot(frame), onEvent(frame), onStatus({state, attempt, delayMs, code, message}).
   * `openingTime`: ISO time the room opens (a refusal 4409 waits for it; null: try again soon).
   */
  constructor(url, { openingTime = null, onSnapshot, onEvent, onStatus }) {
    this.url = url;
    this.openingTime = openingTime ? Date.parse(openingTime) : null;
    this.handlers = { onSnapshot, onEvent, onStatus };
    this.seq = null; // the last event applied (or the snapshot's number)
    this.socket = null;
    this.pending = new Map();
    this.buffered = new Map(); // events that came before the first snapshot, by seq
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.refusal = null;
    this.maxFrameBytes = Infinity;
    this.nextRef = 1;
    this.stopped = false;
  }

  start() {
    window.addEventListener("online", () => this.reconnectNow());
    this.connect();
  }

  status(state, extra = {}) {
    this.state = state;
    this.handlers.onStatus?.({ state, ...extra });
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.refusal = null;
    this.status(this.seq === null ? "connecting" : "reconnecting", { attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onmessage = (message) => {
      if (this.socket === socket) this.receive(message.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.closed(event.code);
    };
  }

  reconnectNow() {
    if (this.stopped || !this.timer) return;
    this.attempt = 0;
    this.connect();
  }

  closed(code) {
    clearInterval(this.pinger);
    this.pinger = null;
    this.socket = null;
    for (const { reject } of this.pending.values()) reject(new RoomDisconnected("the connection to the room dropped"));
    this.pending.clear();
    if (this.stopped) return;
    if (FINAL_CLOSES.has(code)) {
      this.stopped = true;
      this.status("refused", { code, message: this.refusal?.message ?? "" });
      return;
    }
    if (code === NOT_OPEN_YET) {
      // The room opens at its published time: try again then (the clocks may differ a little).
      const wait = Math.max(2000, (this.openingTime ?? 0) - Date.now() + 1000);
      this.status("waiting", { delayMs: wait, message: this.refusal?.message ?? "" });
      this.timer = setTimeout(() => this.connect(), Math.min(wait, 10 * 60000));
      return;
    }
    this.retry();
  }

  retry() {
    this.attempt += 1;
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.attempt - 1));
    // Jitter, so that a room full of pages does not come back in the same second.
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.status("reconnecting", { attempt: this.attempt, delayMs });
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  sendFrame(frame) {
    this.socket.send(JSON.stringify(frame));
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        this.maxFrameBytes = frame.max_frame_bytes ?? Infinity;
        this.sendFrame(this.seq === null ? { type: "snapshot" } : { type: "resume", last_seq: this.seq });
        break;
      case "snapshot":
        this.seq = frame.seq;
        this.handlers.onSnapshot?.(frame);
        this.live();
        this.drain();
        break;
      case "resumed":
        this.live();
        this.drain();
        break;
      case "event":
        this.event(frame);
        break;
      case "ok":
      case "error":
        this.reply(frame);
        break;
      default:
        break; // pong, and kinds of frames a later server may add
    }
  }

  live() {
    this.attempt = 0;
    clearInterval(this.pinger);
    // Keeps proxies from closing an idle connection.
    this.pinger = setInterval(() => {
      if (this.socket?.readyState === WebSocket.OPEN) this.sendFrame({ type: "ping" });
    }, PING_EVERY_MS);
    this.status("live");
  }

  event(frame) {
    if (this.seq === null) {
      this.buffered.set(frame.seq, frame); // before the first snapshot: kept until it comes
      return;
    }
    // Already applied (a resume and the live stream can overlap). Numbers may jump: a room numbers
    // the events of every audience in one sequence, and the server fills real gaps itself.
    if (frame.seq <= this.seq) return;
    this.apply(frame);
  }

  apply(frame) {
    this.seq = frame.seq;
    this.handlers.onEvent?.(frame);
  }

  drain() {
    for (const seq of [...this.buffered.keys()].sort((a, b) => a - b)) {
      const frame = this.buffered.get(seq);
      this.buffered.delete(seq);
      if (seq > this.seq) this.apply(frame);
    }
  }

  reply(frame) {
    const waiting = frame.ref ? this.pending.get(frame.ref) : null;
    if (!waiting) {
      // An error before any command: the refusal that comes before the socket closes.
      if (frame.type === "error") this.refusal = frame;
      return;
    }
    this.pending.delete(frame.ref);
    if (frame.type === "ok") waiting.resolve(frame);
    else waiting.reject(new RoomError(frame));
  }

  /** Asks for a fresh snapshot (after a refusal that says this page's view is out of date). */
  refresh() {
    if (this.state === "live" && this.socket?.readyState === WebSocket.OPEN) this.sendFrame({ type: "snapshot" });
  }

  /** Sends a command; resolves with the server's `ok` frame, rejects with RoomError, RoomDisconnected or FrameTooLarge. */
  command(type, fields = {}) {
    if (this.state !== "live" || this.socket?.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RoomDisconnected("not connected to the room"));
    }
    const ref = `c${this.nextRef++}`;
    const text = JSON.stringify({ type, ref, ...fields });
    if (new TextEncoder().encode(text).length > this.maxFrameBytes) {
      return Promise.reject(new FrameTooLarge(`${type} is larger than ${this.maxFrameBytes} bytes`));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.socket.send(text);
    });
  }
}
