package io.replicakv.net.peer;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Client side of one peer connection: routes responses to their requests, reports the close. */
final class ClientConnectionHandler extends SimpleChannelInboundHandler<Frame> {
  private static final Logger log = LoggerFactory.getLogger(ClientConnectionHandler.class);

  private final PeerConnection connection;
  private final PeerConnection.Link link;
  private String closeReason = "connection closed by the peer";

  ClientConnectionHandler(PeerConnection connection, PeerConnection.Link link) {
    this.connection = connection;
    this.link = link;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext context, Frame response) {
    if (response.correlationId() == Frame.CONNECTION_CORRELATION_ID) {
      // A frame about the connection: the peer refuses it (another version, a bad frame) and is
      // about to close, so every request on it is lost.
      closeReason = "peer closed the connection: " + response.payloadText();
      context.close();
      return;
    }
    connection.onResponse(link, response);
  }

  @Override
  public void channelInactive(ChannelHandlerContext context) throws Exception {
    connection.onLinkClosed(link, closeReason);
    super.channelInactive(context);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
    if (cause instanceof FrameProtocolException protocol) {
      closeReason = "unreadable frame from peer: " + protocol.getMessage();
      log.warn("closing peer connection {}: {}", context.channel().remoteAddress(), closeReason);
    } else {
      closeReason = "connection error: " + cause;
      log.debug("closing peer connection {}", context.channel().remoteAddress(), cause);
    }
    context.close();
  }
}
