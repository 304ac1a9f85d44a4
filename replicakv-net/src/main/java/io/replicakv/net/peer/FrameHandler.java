package io.replicakv.net.peer;

/**
 * The server side of the peer transport: answers request frames. {@link PeerServer} calls it on the
 * connection's Netty event loop, or on the executor given in {@link PeerServerOptions}; a handler
 * that blocks must use an executor. Responses may be sent later and from any thread, in any order
 * relative to other requests.
 */
public interface FrameHandler {
  /**
   * Handles one request. Exactly one of {@link Responder#reply} or {@link Responder#fail} must be
   * called once, now or later. A handler that throws is answered with an ERROR frame carrying the
   * exception's message.
   */
  void onRequest(Frame request, Responder responder);

  /** The way back to the requester of one frame. Thread-safe; answers once. */
  interface Responder {
    /**
     * Sends {@code response} with the request's correlation id. The response's own correlation id
     * must be that id or {@link Frame#CONNECTION_CORRELATION_ID}. A response larger than the frame
     * bound is replaced by an ERROR frame saying so.
     */
    void reply(Frame response);

    /** Sends an ERROR frame ({@link Frame#TYPE_ERROR}) with {@code message}. */
    void fail(String message);
  }
}
