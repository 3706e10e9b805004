/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "regsweep/detmath.h"
/* ns per call over 1M arguments in a realistic range, best of 7 repeats. */
static double now(void){struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); return ts.tv_sec+1e-9*ts.tv_nsec;}
#define N (1<<20)
static float xs[N], ys[N];
static float l_exp(float x){return expf(x);} static float l_log(float x){return logf(x);}
static float l_sin(float x){return sinf(x);} static float l_cos(float x){return cosf(x);}
static float l_tanh(float x){return tanhf(x);} static float l_sig(float x){return 1.0f/(1.0f+expf(-x));}
static double bench(float(*f)(float), float lo, float hi){
  uint32_t s=12345; for(int i=0;i<N;i++){ s=s*1664525u+1013904223u; xs[i]=lo+(hi-lo)*(float)(s>>8)*0x1p-24f; }
  double best=1e9; for(int r=0;r<7;r++){ double t0=now(); for(int i=0;i<N;i++) ys[i]=f(xs[i]); double t=now()-t0; if(t<best)best=t; }
  return best/N*1e9;
}
int main(void){
  struct {const char*n; float(*f)(float); float(*l)(float); float lo,hi;} t[]={
   {"exp [-20,0]",rs_expf,l_exp,-20,0},{"log [1e-6,100]",rs_logf,l_log,1e-6f,100},{"sin [0,2pi]",rs_sinf,l_sin,0,6.2831853f},
   {"cos [0,2pi]",rs_cosf,l_cos,0,6.2831853f},{"sin [1e5,1e30]",rs_sinf,l_sin,1e5f,1e30f},{"tanh [-5,5]",rs_tanhf,l_tanh,-5,5},{"sigmoid [-10,10]",rs_sigmoidf,l_sig,-10,10}};
  for(int k=0;k<7;k++){ double a=bench(t[k].f,t[k].lo,t[k].hi), b=bench(t[k].l,t[k].lo,t[k].hi);
    printf("%-18s detmath %5.1f ns/call   glibc float %5.1f ns/call\n",t[k].n,a,b);}
  (void)ys; return 0;
}
