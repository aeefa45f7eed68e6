package dev.weft.comm;

/** The kinds of communication operation; used in error messages, statistics and wire headers. */
public enum CommOp {
  ALL_REDUCE("allReduce"),
  REDUCE_SCATTER("reduceScatter"),
  ALL_GATHER("allGather"),
  BROADCAST("broadcast"),
  SEND("send"),
  RECV("recv"),
  ALL_TO_ALL("allToAll"),
  BARRIER("barrier");

  private final String label;

  CommOp(String label) {
    this.label = label;
  }

  /** camelCase name as in the Communicator method: "allReduce". */
  public String label() {
    return label;
  }

  /** The op with this ordinal, or null when the code is out of range (garbage on the wire). */
  public static CommOp fromCode(int code) {
    CommOp[] all = values();
    return code >= 0 && code < all.length ? all[code] : null;
  }
}
