/** Always-on checks and the small binary-encoding helpers shared by the core data types. */
package io.replicakv.core.util;
