/** Data movement on membership changes: streaming a joining or leaving member's slots. */
package io.replicakv.server.move;
