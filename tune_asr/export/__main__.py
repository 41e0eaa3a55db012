import sys

from tune_asr.export import main

sys.exit(main())
