"""Routes a router takes on the 120 held-out denoise and dereverb pairs (degraded and clean files).

python bench/results/runs-session26/route_diag.py [ROUTER]   (a registered name or a router file; default universal-router-v1)
"""
import sys, tempfile, collections
from pathlib import Path
import soundfile as sf, torch
from models import api
from models.data.degrade import DegradeConfig
from models.shipping.heldout import HeldoutSpec, build_heldout_set
torch.set_num_threads(1)
C='/work/data/gre-corpus'
router=api.load_model(sys.argv[1] if len(sys.argv)>1 else 'universal-router-v1')
for task, spec in [('denoise', HeldoutSpec((f'{C}/speech/heldout',), (f'{C}/noise/heldout',), (), files=120)),
                   ('dereverb', HeldoutSpec((f'{C}/speech/heldout',), (), (f'{C}/rir/heldout',), files=120))]:
    with tempfile.TemporaryDirectory() as tmp:
        evs,_=build_heldout_set(spec, task, DegradeConfig(), Path(tmp))
        counts=collections.Counter(); cl=collections.Counter()
        for p in sorted((evs.set_dir/'degraded').glob('*.wav')):
            x,_=sf.read(p, dtype='float32'); y,_=sf.read(evs.set_dir/'clean'/p.name, dtype='float32')
            counts[router.routes(torch.from_numpy(x)[None])[0]]+=1
            cl[router.routes(torch.from_numpy(y)[None])[0]]+=1
        print(task, 'degraded:', dict(counts), 'clean:', dict(cl))
