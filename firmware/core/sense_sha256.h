/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), small enough for an ATmega328P (16-word rolling schedule). */
#ifndef SENSE_SHA256_H
#define SENSE_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define SENSE_SHA256_BYTES 32u
#define SENSE_SHA256_BLOCK_BYTES 64u

typedef struct {
    uint32_t state[8];
    uint8_t block[SENSE_SHA256_BLOCK_BYTES];
    uint32_t n_total_bytes;
    uint8_t n_block_bytes;
} sense_sha256;

void sense_sha256_init(sense_sha256 *sha);
void sense_sha256_update(sense_sha256 *sha, const uint8_t *data, size_t n_bytes);
void sense_sha256_final(sense_sha256 *sha, uint8_t digest[SENSE_SHA256_BYTES]);

typedef struct {
    sense_sha256 inner;
    uint8_t outer_key[SENSE_SHA256_BLOCK_BYTES]; /* key ^ opad */
} sense_hmac_sha256;

void sense_hmac_sha256_init(sense_hmac_sha256 *hmac, const uint8_t *key, size_t n_key_bytes);
void sense_hmac_sha256_update(sense_hmac_sha256 *hmac, const uint8_t *data, size_t n_bytes);
void sense_hmac_sha256_final(sense_hmac_sha256 *hmac, uint8_t mac[SENSE_SHA256_BYTES]);

#endif
