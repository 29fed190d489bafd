// Every replicate of a sweep with its records, as the replicates.md writers (SweepReplicates, SweepAblation, SweepClaim4,
// SweepComputeRatio) take them: one alias for the project instead of the same long tuple type spelled in each file.
global using ReplicateRuns = System.Collections.Generic.List<(Crt.Scaling.SweepReplicate Replicate, (System.Collections.Generic.IReadOnlyList<Crt.Scaling.TokenizerRecord> Tokenizers, System.Collections.Generic.IReadOnlyList<Crt.Scaling.PointRecord> Points) Records)>;
