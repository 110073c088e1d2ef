##### job EleutherAI__pythia-410m@step1000
#!/bin/bash
# lm-eval-mirage sweep family-demo, job EleutherAI__pythia-410m@step1000
# model pythia-410m: EleutherAI/pythia-410m revision step1000
# backend hf; parallel data=1 tensor=1 shard=False; gpus 1
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config 10d26993415eda44)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-410m@step1000 --task mirage_arith_add_2d --hash 10d26993415eda44 -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-410m,revision=step1000,dtype=float16 \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/10d26993415eda44/run.json || status=1
# mirage_paper_mul_2d (config 5518ede849a97f83)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-410m@step1000 --task mirage_paper_mul_2d --hash 5518ede849a97f83 -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-410m,revision=step1000,dtype=float16 \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/5518ede849a97f83/run.json || status=1
exit $status
##### job EleutherAI__pythia-410m@step143000
#!/bin/bash
# lm-eval-mirage sweep family-demo, job EleutherAI__pythia-410m@step143000
# model pythia-410m: EleutherAI/pythia-410m revision step143000
# backend hf; parallel data=1 tensor=1 shard=False; gpus 1
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config 71639b2dbd012d5d)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-410m@step143000 --task mirage_arith_add_2d --hash 71639b2dbd012d5d -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-410m,revision=step143000,dtype=float16 \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/71639b2dbd012d5d/run.json || status=1
# mirage_paper_mul_2d (config 28be17b0145c6554)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-410m@step143000 --task mirage_paper_mul_2d --hash 28be17b0145c6554 -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-410m,revision=step143000,dtype=float16 \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/28be17b0145c6554/run.json || status=1
exit $status
##### job EleutherAI__pythia-6.9b
#!/bin/bash
# lm-eval-mirage sweep family-demo, job EleutherAI__pythia-6.9b
# model pythia-6.9b: EleutherAI/pythia-6.9b
# backend hf; parallel data=4 tensor=1 shard=False; gpus 4
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config d3ddb3ba74879b85)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-6.9b --task mirage_arith_add_2d --hash d3ddb3ba74879b85 -- \
    python -m accelerate.commands.launch --multi_gpu --num_processes 4 --num_machines 1 --mixed_precision no --dynamo_backend no -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-6.9b \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/d3ddb3ba74879b85/run.json || status=1
# mirage_paper_mul_2d (config 05998ba4288dfdcd)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-6.9b --task mirage_paper_mul_2d --hash 05998ba4288dfdcd -- \
    python -m accelerate.commands.launch --multi_gpu --num_processes 4 --num_machines 1 --mixed_precision no --dynamo_backend no -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-6.9b \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/05998ba4288dfdcd/run.json || status=1
exit $status
##### job EleutherAI__pythia-12b
#!/bin/bash
# lm-eval-mirage sweep family-demo, job EleutherAI__pythia-12b
# model pythia-12b: EleutherAI/pythia-12b
# backend hf; parallel data=1 tensor=1 shard=True; gpus 2
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config a9109906d3b62980)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-12b --task mirage_arith_add_2d --hash a9109906d3b62980 -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-12b,parallelize=True \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/a9109906d3b62980/run.json || status=1
# mirage_paper_mul_2d (config 0aff7e3a91d51465)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder EleutherAI__pythia-12b --task mirage_paper_mul_2d --hash 0aff7e3a91d51465 -- \
    python -m lm_eval_mirage.cli.main run \
    --model hf \
    --model_args pretrained=EleutherAI/pythia-12b,parallelize=True \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/0aff7e3a91d51465/run.json || status=1
exit $status
##### job __models__llama-70b
#!/bin/bash
# lm-eval-mirage sweep family-demo, job __models__llama-70b
# model llama-70b: /models/llama-70b
# backend vllm; parallel data=2 tensor=4 shard=False; gpus 8
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config edf075c0fe6bc414)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder __models__llama-70b --task mirage_arith_add_2d --hash edf075c0fe6bc414 -- \
    python -m lm_eval_mirage.cli.main run \
    --model vllm \
    --model_args pretrained=/models/llama-70b,gpu_memory_utilization=0.9,max_model_len=2048,tensor_parallel_size=4,data_parallel_size=2 \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/edf075c0fe6bc414/run.json || status=1
# mirage_paper_mul_2d (config c4d4a97169087674)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder __models__llama-70b --task mirage_paper_mul_2d --hash c4d4a97169087674 -- \
    python -m lm_eval_mirage.cli.main run \
    --model vllm \
    --model_args pretrained=/models/llama-70b,gpu_memory_utilization=0.9,max_model_len=2048,tensor_parallel_size=4,data_parallel_size=2 \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size auto \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/c4d4a97169087674/run.json || status=1
exit $status
##### job my-served-model
#!/bin/bash
# lm-eval-mirage sweep family-demo, job my-served-model
# model local-server: my-served-model
# backend local-completions; parallel data=1 tensor=1 shard=False; gpus 0
# 2 task(s); each step skips a task already done with the same configuration hash
set -eu
module load cuda/12.1
export HF_HOME=/scratch/hf
export HF_HUB_OFFLINE=1
status=0
# mirage_arith_add_2d (config f75ebd483907ed7b)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder my-served-model --task mirage_arith_add_2d --hash f75ebd483907ed7b -- \
    python -m lm_eval_mirage.cli.main run \
    --model local-completions \
    --model_args model=my-served-model,base_url=http://127.0.0.1:8000/v1/completions,num_concurrent=4 \
    --tasks mirage_arith_add_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size 1 \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/f75ebd483907ed7b/run.json \
    --seed 1234 || status=1
# mirage_paper_mul_2d (config ba9f0c18c7d0e362)
python -m lm_eval_mirage.sweep.step --root /scratch/sweeps/family-demo --folder my-served-model --task mirage_paper_mul_2d --hash ba9f0c18c7d0e362 -- \
    python -m lm_eval_mirage.cli.main run \
    --model local-completions \
    --model_args model=my-served-model,base_url=http://127.0.0.1:8000/v1/completions,num_concurrent=4 \
    --tasks mirage_paper_mul_2d \
    --num_fewshot 2 \
    --limit 200 \
    --batch_size 1 \
    --log_samples \
    --output_path /scratch/sweeps/family-demo/.sweep/staging/ba9f0c18c7d0e362/run.json \
    --seed 1234 || status=1
exit $status
