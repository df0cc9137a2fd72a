/* Consistent Overhead Byte Stuffing (groups of at most 254 data bytes), without the 0x00 delimiter. */
#ifndef SENSE_COBS_H
#define SENSE_COBS_H
#include <stddef.h>
#include <stdint.h>

/* Worst-case encoded size of n decoded bytes. */
#define SENSE_COBS_MAX_ENCODED(n) ((n) + (n) / 254u + 1u)

/* Encode n bytes of in into out (capacity >= SENSE_COBS_MAX_ENCODED(n)); returns the encoded length. */
size_t sense_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);

/* Decode n bytes; out may equal in (in-place). Returns the decoded length, or -1 if the input is not valid
 * COBS (a 0x00 inside, or a code byte running past the end) or does not fit in out_capacity. */
long sense_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_capacity);

#endif
