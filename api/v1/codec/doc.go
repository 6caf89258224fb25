// Package codec encodes and decodes Mesos v1 messages in the two encodings
// Mesos' HTTP APIs speak: protobuf binary (application/x-protobuf) and
// Mesos' own JSON mapping (application/json).
//
// Mesos' JSON mapping is not proto3's canonical JSON, and generic protobuf
// JSON libraries get it wrong in ways that break Mesos clients. This package
// implements it over protobuf reflection, so it works for every generated
// message:
//
//   - keys are the .proto field names (snake_case); other spellings are
//     unknown keys, and unknown keys are ignored at any depth;
//   - fields are written in .proto declaration order, as Mesos writes them;
//   - enums are written by name and read by name (a number is accepted too);
//   - 32- and 64-bit integers are written as JSON numbers and read from
//     numbers or from strings holding a number;
//   - doubles are written in shortest round-trip form with a ".0" on whole
//     values (15.0), and read from numbers, numeric strings, "Infinity",
//     "-Infinity" and "NaN";
//   - bools are read from true/false or the strings "true"/"false";
//   - bytes are standard base64 with padding (URL-safe and unpadded input is
//     accepted);
//   - null means "not set";
//   - an unset optional field with an explicit [default = ...] in the .proto
//     is written with that default unless the field is deprecated, as Mesos
//     does (Filters.refuse_seconds: 5.0, CommandInfo.shell: true, ...);
//   - a missing required field is an error naming the field.
//
// Errors name the offending field by its path from the top-level message
// (for example "subscribe.framework_info.user: expected a string, got a
// number").
package codec
