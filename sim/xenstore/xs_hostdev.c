/* placeholder */
#include "config.h"

