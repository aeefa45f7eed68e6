package dev.weft.models;

import com.fasterxml.jackson.databind.JsonNode;
import dev.weft.WeftInputException;
import java.nio.file.Path;

/**
 * Reads the fields of one Hugging Face config.json for a family, each failure bad input that names the
 * file, the field and the fix: required positive integers, and the fields whose other values Weft does not
 * support (refused by name rather than silently ignored).
 */
public final class ConfigFields {
  private final Path file;
  private final JsonNode root;
  private final String family;

  public ConfigFields(Path file, JsonNode root, String family) {
    this.file = file;
    this.root = root;
    this.family = family;
  }

  public boolean has(String field) {
    JsonNode v = root.get(field);
    return v != null && !v.isNull();
  }

  /** A required positive integer. */
  public int positive(String field) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) {
      throw new WeftInputException(file + " has no \"" + field + "\" field, which a " + family
          + " config.json needs; add it.");
    }
    return positiveValue(field, v);
  }

  /** An optional positive integer, {@code otherwise} when absent or null. */
  public int positive(String field, int otherwise) {
    JsonNode v = root.get(field);
    return v == null || v.isNull() ? otherwise : positiveValue(field, v);
  }

  private int positiveValue(String field, JsonNode v) {
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
      throw new WeftInputException(file + " has \"" + field + "\": " + v + ", which is not a positive integer. Fix the "
          + "field.");
    }
    return v.intValue();
  }

  /** An optional positive number, {@code otherwise} when absent or null. */
  public double positiveNumber(String field, double otherwise) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) return otherwise;
    if (!v.isNumber() || !(v.doubleValue() > 0) || Double.isInfinite(v.doubleValue())) {
      throw new WeftInputException(file + " has \"" + field + "\": " + v + ", which is not a positive number. Fix the "
          + "field.");
    }
    return v.doubleValue();
  }

  /** An optional boolean, {@code otherwise} when absent or null. */
  public boolean bool(String field, boolean otherwise) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) return otherwise;
    if (!v.isBoolean()) {
      throw new WeftInputException(file + " has \"" + field + "\": " + v + ", which is not true or false. Fix the field.");
    }
    return v.booleanValue();
  }

  /** Refuses a present, non-null field whose text is none of {@code supported}. */
  public void refuseUnless(String field, String... supported) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) return;
    for (String s : supported) if (s.equals(v.asText())) return;
    throw unsupported(field, v, "supports only " + String.join(" or ", supported));
  }

  /** Refuses a present field that is neither null nor the integer {@code value}. */
  public void refuseUnlessNullOr(String field, int value) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull() || (v.isIntegralNumber() && v.intValue() == value)) return;
    throw unsupported(field, v, "supports only null or " + value);
  }

  /** Refuses a present number other than {@code value}. */
  public void refuseUnlessNumber(String field, double value) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull() || (v.isNumber() && v.doubleValue() == value)) return;
    throw unsupported(field, v, "supports only " + value);
  }

  /** Refuses a present boolean other than {@code value}. */
  public void refuseUnlessBoolean(String field, boolean value) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull() || (v.isBoolean() && v.booleanValue() == value)) return;
    throw unsupported(field, v, "supports only " + value);
  }

  public void refuseIfTrue(String field) {
    refuseUnlessBoolean(field, false);
  }

  public void refuseIfFalse(String field) {
    refuseUnlessBoolean(field, true);
  }

  /** Refuses a field that is present and not null (e.g. rope_scaling). */
  public void refuseIfPresent(String field, String why) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) return;
    throw unsupported(field, v, why);
  }

  private WeftInputException unsupported(String field, JsonNode v, String what) {
    return new WeftInputException(file + " has \"" + field + "\": " + v + ", which Weft's " + family + " does not "
        + "support (it " + what + "). Use a model without it, or change the field if the weights allow.");
  }
}
