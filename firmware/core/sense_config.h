/* Build-time sizes of the SENSE firmware core. Boards override them with -D on the compiler command line
 * (firmware/Makefile), never by editing this header. */
#ifndef SENSE_CONFIG_H
#define SENSE_CONFIG_H

/* Most actuator channels the core keeps state for (the board says how many it drives, <= this). */
#ifndef SENSE_MAX_CHANNELS
#define SENSE_MAX_CHANNELS 40
#endif

/* Largest decoded frame (type + body + CRC) the device accepts; PROTOCOL.md allows at most 254. */
#ifndef SENSE_MAX_FRAME
#define SENSE_MAX_FRAME 254
#endif

#if SENSE_MAX_CHANNELS < 1 || SENSE_MAX_CHANNELS > 64
#error "SENSE_MAX_CHANNELS must be 1..64"
#endif
#if SENSE_MAX_FRAME < 40 || SENSE_MAX_FRAME > 254
#error "SENSE_MAX_FRAME must be 40..254"
#endif

#endif
