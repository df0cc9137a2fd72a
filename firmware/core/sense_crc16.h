/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection; "123456789" -> 0x29B1. */
#ifndef SENSE_CRC16_H
#define SENSE_CRC16_H
#include <stddef.h>
#include <stdint.h>

#define SENSE_CRC16_INIT 0xFFFFu
uint16_t sense_crc16_update(uint16_t crc, const uint8_t *data, size_t n_bytes);
uint16_t sense_crc16(const uint8_t *data, size_t n_bytes);

#endif
