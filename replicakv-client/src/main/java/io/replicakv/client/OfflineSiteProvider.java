package io.replicakv.client;

import java.io.IOException;

/**
 * The service {@link OfflineSite#open} looks up with {@link java.util.ServiceLoader}: an
 * implementation of library mode, registered in {@code
 * META-INF/services/io.replicakv.client.OfflineSiteProvider}. {@code replicakv-server} provides the
 * real one over its embedded site; see {@link OfflineSite} for why the API and the implementation
 * live in different modules.
 */
public interface OfflineSiteProvider {
  /** Opens (creating) the site described by {@code options}. */
  OfflineSite open(OfflineSite.Options options) throws IOException;
}
